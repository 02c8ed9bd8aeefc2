-- one row per program: its verdict and its projects' verdicts counted
select program_id, program_name, health, projects, projects_red, projects_amber, projects_green,
       projects_unknown, open_blockers_from_other_programs, items, items_done, as_of
from bi.program_health
order by program_id
