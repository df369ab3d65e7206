-- 90% GET by random id, 10% PUT create.
dofile("common.lua")

function request()
  if math.random(1, 10) == 1 then
    return put_request()
  end
  return get_request()
end
