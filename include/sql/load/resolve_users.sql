-- A person is found through the editable mapping first, then through known aliases; an actor
-- that matches nothing keeps its deterministic candidate id and becomes a stub user.
UPDATE staging_events s
SET external_user_id = coalesce(
        (SELECT m.external_user_id FROM audit.identity_mappings m WHERE m.alias = s.actor_alias_id),
        (SELECT m.external_user_id FROM audit.identity_mappings m WHERE m.alias = s.actor_alias_name),
        (SELECT a.external_user_id FROM audit.external_user_aliases a WHERE a.alias = s.actor_alias_id),
        (SELECT a.external_user_id FROM audit.external_user_aliases a WHERE a.alias = s.actor_alias_name),
        s.candidate_user_id)
