-- daily burn-up of every program and project: scope and done, by items and points
select target_id, level, program_id, project_key, day, scope_items, done_items, scope_points,
       done_points, scope_added_items, scope_removed_items
from bi.burnup
where level in ('program', 'project')
order by target_id, day
