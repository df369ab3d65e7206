-- GET a person by random id among the loaded rows.
dofile("common.lua")
request = get_request
