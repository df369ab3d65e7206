"""`flask people export`: every person in id order, with the listing's filters; an export
imported into an empty database gives back the same people."""

import json

import pytest

from tests.conftest import before_storage, build_app, dispose

ODD_NAMES = [
    'Comma, "Quoted" Name',
    "Émilie Zoë 😀",
    "李小龙 עברית हिन्दी",
    "محمد",
    "=1+2",
    "'single' and \\ backslash",
    "Line\u2028Separator",
    "trailing\u00a0space\u00a0",
]


def run(app, *args):
    return app.test_cli_runner().invoke(args=["people", *args])


def people_of(stored):
    return [(p["name"], p["age"], p["locale"]) for p in stored]


@pytest.mark.parametrize("kind", ["csv", "ndjson"])
def test_export_then_import_gives_back_the_same_people(
    app, client, tmp_path, kind, stored_people, database_kind, make_database
):
    people = [
        {"name": name, "age": i % 151, "locale": f'L,"{i % 3}"'}
        for i, name in enumerate(ODD_NAMES * 300)  # several export chunks
    ]
    for start in range(0, len(people), 800):  # bulk creates: the field rules of one PUT each
        response = client.put("/resources/data/", json=people[start : start + 800])
        assert response.status_code == 201, response.get_json()
    original = people_of(stored_people())
    path = tmp_path / f"export.{kind}"
    result = run(app, "export", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"Exported {len(original)} people.\n"

    from flask_migrate import upgrade

    target = build_app(make_database(database_kind))
    with target.app_context():
        upgrade()
    try:
        result = run(target, "import", str(path))
        assert result.exit_code == 0, result.stderr
        with target.app_context():
            from api.extensions import db

            rows = db.session.execute(
                db.text("SELECT name, age, locale FROM people ORDER BY id")
            ).all()
        assert [tuple(row) for row in rows] == original
    finally:
        dispose(target)


def test_export_filters_and_standard_output(app, client, stored_people):
    for name, age, locale in [("Ann", 30, "NYC"), ("Bob", 40, "LA"), ("Cy", 50, "NYC")]:
        client.put("/resources/data", json={"name": name, "age": age, "locale": locale})
    result = run(app, "export", "--format", "ndjson", "--locale", "NYC", "--age-min", "35")
    assert result.exit_code == 0, result.stderr
    people = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(p["name"], p["age"]) for p in people] == [("Cy", 50)]
    assert set(people[0]) == {"id", "name", "age", "locale", "created_at", "updated_at"}

    result = run(app, "export", "--locale", "LA")  # CSV on standard output by default
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "id,name,age,locale,created_at,updated_at"
    assert lines[1].split(",")[1:4] == ["Bob", "40", "LA"] and len(lines) == 2


@before_storage
def test_export_refuses_bad_filters(app):
    result = run(app, "export", "--age-min", "old", "--locale", "")
    assert result.exit_code == 2
    assert "--locale must not be empty" in result.stderr
    assert "--age-min must be a whole number from 0 to 150" in result.stderr
