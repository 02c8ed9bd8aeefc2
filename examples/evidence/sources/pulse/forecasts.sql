-- Monte Carlo completion forecasts of every open milestone, project and program
select target_id, level, program_id, project_key, name, due_date, remaining_items, status,
       p50_date, p85_date, p95_date, p_on_time, note
from bi.forecasts
order by program_id, level, due_date
