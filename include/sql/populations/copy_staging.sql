COPY staging_population_accounts (
    account_id, principal_name, mail, display_name, enabled, user_type, account_created_at,
    last_sign_in_at, last_non_interactive_sign_in_at, last_successful_sign_in_at, aliases,
    properties, content_hash) FROM STDIN
