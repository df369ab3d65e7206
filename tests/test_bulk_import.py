"""`flask people import`: CSV and NDJSON, the API's rules on every row, all or nothing."""

import json

import pytest

from tests.conftest import before_storage

ODD_NAMES = [
    'Comma, "Quoted" Name',
    "Émilie Zoë 😀",
    "李小龙",
    "محمد",
    "=1+2",
    "Line\u2028Separator",
]


def run_import(app, path, *options):
    return app.test_cli_runner().invoke(args=["people", "import", str(path), *options])


def csv_text(rows, header="name,age,locale"):
    return header + "\r\n" + "".join(row + "\r\n" for row in rows)


def test_csv_import_stores_every_row_in_order(app, tmp_path, stored_people):
    lines = ['"Comma, ""Quoted"" Name",30,NYC', "Émilie Zoë 😀,0,Paris", "李小龙,150,HK"]
    path = tmp_path / "people.csv"
    path.write_text("\ufeff" + csv_text(lines), encoding="utf-8")  # with a BOM
    result = run_import(app, path)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "Imported 3 people; skipped 0 invalid rows.\n"
    assert [(p["name"], p["age"], p["locale"]) for p in stored_people()] == [
        ('Comma, "Quoted" Name', 30, "NYC"),
        ("Émilie Zoë 😀", 0, "Paris"),
        ("李小龙", 150, "HK"),
    ]


def test_ndjson_import_and_format_option(app, tmp_path, stored_people):
    path = tmp_path / "people.txt"
    documents = [{"name": name, "age": 20 + i, "locale": "X"} for i, name in enumerate(ODD_NAMES)]
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents))
    assert run_import(app, path).exit_code == 2  # no format from the extension
    result = run_import(app, path, "--format", "ndjson")
    assert result.exit_code == 0, result.stderr
    assert [p["name"] for p in stored_people()] == ODD_NAMES


def test_bad_csv_rows_are_reported_by_line_and_nothing_is_stored(app, tmp_path, stored_people):
    lines = [
        "Ann,30,NYC",  # line 2
        "Bob,42.0,NYC",  # 3
        "Cy, 42,NYC",  # 4
        "Di,,NYC",  # 5
        "Ed,151,NYC",  # 6
        '"Multi\nline",7,NYC',  # 7 and 8: the API refuses a newline in a name
        ",30,",  # 9
        "Fay,30",  # 10
        "Gus,+3,NYC",  # 11
        "Hal,30,NY\x01C",  # 12
    ]
    path = tmp_path / "people.csv"
    path.write_text(csv_text(lines), newline="")
    result = run_import(app, path)
    assert result.exit_code == 1
    digits = "must be an integer written in digits only, such as 42"
    assert result.stderr.splitlines() == [
        f"line 3: age {digits}",
        f"line 4: age {digits}",
        f"line 5: age {digits}",
        "line 6: age must be between 0 and 150",
        "line 7: name must not contain control characters or lone surrogates",
        "line 9: name must not be empty; locale must not be empty",
        "line 10: has 2 fields; the header has 3",
        f"line 11: age {digits}",
        "line 12: locale must not contain control characters or lone surrogates",
        "Error: 9 invalid rows; nothing was stored (--skip-invalid stores the valid rows).",
    ]
    assert stored_people() == []


def test_skip_invalid_stores_the_valid_rows(app, tmp_path, stored_people):
    path = tmp_path / "people.ndjson"
    path.write_text(
        '{"name": "Ann", "age": 30, "locale": "NYC"}\n'
        '{"name": "Bob", "age": "30", "locale": "NYC"}\n'
        "\n"
        '{"name": "Cy", "age": 30, "locale": "NYC", "extra": 1}\n'
        "[1, 2]\n"
        '{"name": "Di", "age": 30, "locale": "NYC", "age": 31}\n'
        "{not json\n"
        '{"name": "Ed", "age": 31, "locale": "LA", "id": 99}\n'
    )
    result = run_import(app, path, "--skip-invalid")
    assert result.exit_code == 0
    assert result.stdout == "Imported 2 people; skipped 5 invalid rows.\n"
    errors = result.stderr.splitlines()
    assert errors[0] == "line 2: age must be an integer"
    assert errors[1] == "line 4: extra is not a known field"
    assert errors[2] == "line 5: must be a JSON object with name, age and locale"
    assert errors[3].startswith("line 6: The body is not valid JSON: duplicate keys: age")
    assert errors[4].startswith("line 7: The body is not valid JSON")
    assert [(p["name"], p["locale"]) for p in stored_people()] == [("Ann", "NYC"), ("Ed", "LA")]


@before_storage
def test_a_value_seen_on_a_valid_row_is_still_checked_on_every_later_row(
    app, tmp_path, stored_people
):
    # The import remembers each field's clean values (api/schemas.py WholePersonChecker):
    # true equals 1 and 1.0 equals 1 in Python, yet both stay refused after a valid 1.
    path = tmp_path / "people.ndjson"
    rows = [
        {"name": " Ann ", "age": 1, "locale": "NYC"},
        {"name": "Bob", "age": True, "locale": "NYC"},
        {"name": "Cy", "age": 1.0, "locale": "NYC"},
        {"name": " Ann ", "age": 1, "locale": "NYC", "nickname": "A"},
        {"name": "Di", "age": 1, "locale": "NYC", "created_at": "x"},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = run_import(app, path, "--skip-invalid")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "line 2: age must be an integer",
        "line 3: age must be an integer",
        "line 4: nickname is not a known field",
    ]
    assert [(p["name"], p["age"]) for p in stored_people()] == [("Ann", 1), ("Di", 1)]


@before_storage
def test_only_the_first_100_errors_are_listed(app, tmp_path, stored_people):
    path = tmp_path / "people.csv"
    path.write_text(csv_text(["Ann,30,NYC"] + ["Bad,x,NYC"] * 150))
    result = run_import(app, path)
    lines = result.stderr.splitlines()
    assert len(lines) == 102
    assert lines[99].startswith("line 102: age")
    assert lines[100] == "... and 50 more."
    assert result.exit_code == 1 and stored_people() == []


def test_many_rows_in_several_batches(app, tmp_path, stored_people):
    path = tmp_path / "people.csv"
    path.write_text(csv_text([f"Person {i},{i % 151},L{i % 7}" for i in range(12_345)]))
    result = run_import(app, path)
    assert result.exit_code == 0, result.stderr
    people = stored_people()
    assert len(people) == 12_345
    assert people[-1]["name"] == "Person 12344" and people[-1]["age"] == 12_344 % 151


@before_storage
@pytest.mark.parametrize(
    "header",
    ["", "name,age", "name,age,locale,extra", "name,name,age,locale"],
)
def test_a_bad_header_is_refused(app, tmp_path, header, stored_people):
    path = tmp_path / "people.csv"
    path.write_text(header + "\nAnn,30,NYC,x\n" if header else "")
    result = run_import(app, path)
    assert result.exit_code == 1
    assert "header" in result.stderr
    assert stored_people() == []


@before_storage
def test_invalid_utf8_is_refused(app, tmp_path, stored_people):
    path = tmp_path / "people.csv"
    path.write_bytes(b"name,age,locale\nAnn,30,NYC\nB\xffb,30,NYC\n")
    result = run_import(app, path)
    assert result.exit_code == 1
    assert "not valid UTF-8" in result.stderr
    assert stored_people() == []


@before_storage
def test_header_columns_in_any_order_and_server_fields_ignored(app, tmp_path, stored_people):
    path = tmp_path / "people.csv"
    path.write_text("id,locale,name,age,created_at\n7,NYC,Ann,30,2020-01-01T00:00:00Z\n")
    result = run_import(app, path)
    assert result.exit_code == 0, result.stderr
    assert [(p["name"], p["age"], p["locale"]) for p in stored_people()] == [("Ann", 30, "NYC")]


@before_storage
@pytest.mark.parametrize("options", [(), ("--skip-invalid",)])
def test_broken_csv_quoting_stops_the_import(app, tmp_path, stored_people, options):
    path = tmp_path / "people.csv"
    path.write_text(csv_text(["Ann,30,NYC", '"Bo"b,30,NYC', "Cy,30,NYC"]))
    result = run_import(app, path, *options)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: line 3: not valid CSV (")
    assert stored_people() == []
