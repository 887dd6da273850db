SELECT position FROM audit.bookmarks WHERE source_id = %(source_id)s
