-- the snapshot the dashboard shows: "data as of"
select sync_id, published_at, as_of
from bi.snapshots
order by published_at desc
limit 1
