-- one row per project: verdict, dimensions, staleness and its current milestone
select program_id, project_key, project_name, source, health, stale, schedule_health,
       dependency_health, forecast_health, scope_health, slip_health, milestone_name, milestone_due,
       pct_done, pct_time_elapsed, open_cross_project_blockers, late_cross_project_blockers
from bi.project_health
order by program_id, project_key
