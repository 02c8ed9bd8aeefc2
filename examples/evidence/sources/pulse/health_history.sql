-- each program's verdict per day: the trend since 12 weeks before the first sync
select program_id, name, day, health, red_dimensions, amber_dimensions, reason_count, source
from bi.health_history
where level = 'program'
order by program_id, day
