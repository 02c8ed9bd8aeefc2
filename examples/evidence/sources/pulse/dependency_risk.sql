-- open dependencies that put the blocked work at risk (red or amber)
select program_id, risk, reach, blocker_key, blocked_key, blocked_due_date, days_to_blocked_due,
       blocked_age_days, reason
from bi.dependency_risk
where risk <> 'green'
order by program_id, risk desc, days_to_blocked_due
