-- PUT create: a new person from a JSON body on every request.
dofile("common.lua")
request = put_request
