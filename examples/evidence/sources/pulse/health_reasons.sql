-- why each program, project and milestone has its health: one row per reason, in reading order
select target_id, level, program_id, project_key, target_name, dimension, verdict, severity,
       is_summary, reason_rank, sentence, keys
from bi.health_reasons
order by program_id, level, target_name, reason_rank
