-- GET one page of the listing: the path (first page, or a deep page by cursor) is the
-- script's third argument, as each server spells it.
dofile("common.lua")

function request()
  return wrk.format("GET", path, get_headers)
end
