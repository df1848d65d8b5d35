"""What PostgreSQL functions a read may call: the reviewed allow-list and the offline fallback.

The rule (see :mod:`incident_kit.sqlguard.postgres`): a function PostgreSQL declares ``IMMUTABLE``
or ``STABLE`` cannot change the database; a ``VOLATILE`` one may, and is refused unless it is on
:data:`ALLOWED_VOLATILE` (built in, reviewed: it only reads state, sleeps or draws random numbers)
or :data:`ALLOWED_EXTENSION_FUNCTIONS`. :data:`SQL_RUNNERS` are stable functions that run SQL
text or read every relation of a schema, which the guard cannot see, so they are refused too.
With no server to ask (the runbook importer), :data:`BUILTIN_VOLATILE` stands in for ``pg_proc``.
"""

from __future__ import annotations

#: Volatile built-ins that change nothing: clocks, randomness, sleeps (bounded by statement_timeout),
#: sizes, lock and WAL positions, control data, memory and configuration views, sequence reads.
ALLOWED_VOLATILE: frozenset[str] = frozenset({
    "random", "clock_timestamp", "timeofday", "gen_random_uuid", "pg_sleep", "pg_sleep_for", "pg_sleep_until",
    "currval", "lastval", "pg_sequence_last_value",
    "pg_blocking_pids", "pg_safe_snapshot_blocking_pids", "pg_isolation_test_session_is_blocked", "pg_lock_status",
    "pg_database_size", "pg_relation_size", "pg_table_size", "pg_indexes_size", "pg_total_relation_size",
    "pg_tablespace_size", "pg_is_in_recovery", "pg_is_wal_replay_paused", "pg_get_wal_replay_pause_state",
    "pg_last_wal_receive_lsn", "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_current_wal_lsn",
    "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_committed_xact", "pg_control_checkpoint",
    "pg_control_init", "pg_control_recovery", "pg_control_system", "pg_get_backend_memory_contexts",
    "pg_get_shmem_allocations", "pg_get_multixact_members", "pg_notification_queue_usage", "pg_prepared_xact",
    "pg_show_all_file_settings", "pg_hba_file_rules", "pg_ident_file_mappings", "pg_show_replication_origin_status",
    "pg_get_wal_resource_managers", "pg_stat_get_recovery_prefetch", "pg_stat_have_stats", "pg_partition_tree",
    "pg_partition_ancestors", "pg_xact_commit_timestamp", "pg_xact_commit_timestamp_origin", "pg_xact_status",
    "txid_status", "pg_jit_available", "pg_collation_actual_version", "pg_database_collation_actual_version",
    "pg_current_logfile", "pg_stat_get_xact_blocks_fetched", "pg_stat_get_xact_blocks_hit",
    "pg_stat_get_xact_function_calls", "pg_stat_get_xact_function_self_time", "pg_stat_get_xact_function_total_time",
    "pg_stat_get_xact_numscans", "pg_stat_get_xact_tuples_deleted", "pg_stat_get_xact_tuples_fetched",
    "pg_stat_get_xact_tuples_hot_updated", "pg_stat_get_xact_tuples_inserted", "pg_stat_get_xact_tuples_returned",
    "pg_stat_get_xact_tuples_updated",
})

#: Volatile functions of extensions that only read: (extension, function).
ALLOWED_EXTENSION_FUNCTIONS: frozenset[tuple[str, str]] = frozenset({
    ("pg_stat_statements", "pg_stat_statements"), ("pg_stat_statements", "pg_stat_statements_info"),
    ("pg_buffercache", "pg_buffercache_pages"), ("pg_buffercache", "pg_buffercache_summary"),
    ("pgstattuple", "pgstattuple"), ("pgstattuple", "pgstatindex"), ("pgstattuple", "pgstattuple_approx"),
})

#: Non-volatile built-ins that run SQL text or read relations the guard cannot see.
SQL_RUNNERS: frozenset[str] = frozenset({
    "table_to_xml", "table_to_xmlschema", "table_to_xml_and_xmlschema", "schema_to_xml", "schema_to_xmlschema",
    "schema_to_xml_and_xmlschema", "database_to_xml", "database_to_xmlschema", "database_to_xml_and_xmlschema",
})

#: Non-volatile built-ins that still change the server: they assign a transaction id (WAL, the xid counter).
XID_ASSIGNERS: frozenset[str] = frozenset({"txid_current", "pg_current_xact_id"})

#: Names of PostgreSQL 15's VOLATILE built-ins (``SELECT proname FROM pg_proc WHERE provolatile = 'v'``),
#: used only when no server is asked; a live check reads ``pg_proc`` of the server itself.
BUILTIN_VOLATILE: frozenset[str] = frozenset({
    "RI_FKey_cascade_del", "RI_FKey_cascade_upd", "RI_FKey_check_ins", "RI_FKey_check_upd", "RI_FKey_noaction_del",
    "RI_FKey_noaction_upd", "RI_FKey_restrict_del", "RI_FKey_restrict_upd", "RI_FKey_setdefault_del",
    "RI_FKey_setdefault_upd", "RI_FKey_setnull_del", "RI_FKey_setnull_upd", "amvalidate", "bernoulli",
    "binary_upgrade_create_empty_extension", "binary_upgrade_set_missing_value",
    "binary_upgrade_set_next_array_pg_type_oid", "binary_upgrade_set_next_heap_pg_class_oid",
    "binary_upgrade_set_next_heap_relfilenode", "binary_upgrade_set_next_index_pg_class_oid",
    "binary_upgrade_set_next_index_relfilenode", "binary_upgrade_set_next_multirange_array_pg_type_oid",
    "binary_upgrade_set_next_multirange_pg_type_oid", "binary_upgrade_set_next_pg_authid_oid",
    "binary_upgrade_set_next_pg_enum_oid", "binary_upgrade_set_next_pg_tablespace_oid",
    "binary_upgrade_set_next_pg_type_oid", "binary_upgrade_set_next_toast_pg_class_oid",
    "binary_upgrade_set_next_toast_relfilenode", "binary_upgrade_set_record_init_privs", "brin_desummarize_range",
    "brin_summarize_new_values", "brin_summarize_range", "brinhandler", "bthandler", "clock_timestamp",
    "current_query", "currtid2", "currval", "cursor_to_xml", "cursor_to_xmlschema", "dsnowball_init",
    "dsnowball_lexize", "gen_random_uuid", "gin_clean_pending_list", "ginhandler", "gisthandler", "hashhandler",
    "heap_tableam_handler", "lastval", "lo_close", "lo_creat", "lo_create", "lo_export", "lo_from_bytea", "lo_get",
    "lo_import", "lo_lseek", "lo_lseek64", "lo_open", "lo_put", "lo_tell", "lo_tell64", "lo_truncate",
    "lo_truncate64", "lo_unlink", "loread", "lowrite", "nextval", "pg_advisory_lock", "pg_advisory_lock_shared",
    "pg_advisory_unlock", "pg_advisory_unlock_all", "pg_advisory_unlock_shared", "pg_advisory_xact_lock",
    "pg_advisory_xact_lock_shared", "pg_backup_start", "pg_backup_stop", "pg_blocking_pids", "pg_cancel_backend",
    "pg_collation_actual_version", "pg_control_checkpoint", "pg_control_init", "pg_control_recovery",
    "pg_control_system", "pg_copy_logical_replication_slot", "pg_copy_physical_replication_slot",
    "pg_create_logical_replication_slot", "pg_create_physical_replication_slot", "pg_create_restore_point",
    "pg_current_logfile", "pg_current_wal_flush_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_lsn",
    "pg_database_collation_actual_version", "pg_database_size", "pg_drop_replication_slot", "pg_export_snapshot",
    "pg_extension_config_dump", "pg_get_backend_memory_contexts", "pg_get_multixact_members",
    "pg_get_shmem_allocations", "pg_get_wal_replay_pause_state", "pg_get_wal_resource_managers", "pg_hba_file_rules",
    "pg_ident_file_mappings", "pg_import_system_collations", "pg_indexes_size", "pg_is_in_recovery",
    "pg_is_wal_replay_paused", "pg_isolation_test_session_is_blocked", "pg_jit_available", "pg_last_committed_xact",
    "pg_last_wal_receive_lsn", "pg_last_wal_replay_lsn", "pg_last_xact_replay_timestamp", "pg_lock_status",
    "pg_log_backend_memory_contexts", "pg_logical_emit_message", "pg_logical_slot_get_binary_changes",
    "pg_logical_slot_get_changes", "pg_logical_slot_peek_binary_changes", "pg_logical_slot_peek_changes",
    "pg_ls_archive_statusdir", "pg_ls_dir", "pg_ls_logdir", "pg_ls_logicalmapdir", "pg_ls_logicalsnapdir",
    "pg_ls_replslotdir", "pg_ls_tmpdir", "pg_ls_waldir", "pg_nextoid", "pg_notification_queue_usage", "pg_notify",
    "pg_partition_ancestors", "pg_partition_tree", "pg_prepared_xact", "pg_promote", "pg_read_binary_file",
    "pg_read_file", "pg_read_file_old", "pg_relation_size", "pg_reload_conf", "pg_replication_origin_advance",
    "pg_replication_origin_create", "pg_replication_origin_drop", "pg_replication_origin_progress",
    "pg_replication_origin_session_is_setup", "pg_replication_origin_session_progress",
    "pg_replication_origin_session_reset", "pg_replication_origin_session_setup", "pg_replication_origin_xact_reset",
    "pg_replication_origin_xact_setup", "pg_replication_slot_advance", "pg_rotate_logfile", "pg_rotate_logfile_old",
    "pg_safe_snapshot_blocking_pids", "pg_sequence_last_value", "pg_show_all_file_settings",
    "pg_show_replication_origin_status", "pg_sleep", "pg_sleep_for", "pg_sleep_until", "pg_stat_clear_snapshot",
    "pg_stat_file", "pg_stat_force_next_flush", "pg_stat_get_recovery_prefetch", "pg_stat_get_xact_blocks_fetched",
    "pg_stat_get_xact_blocks_hit", "pg_stat_get_xact_function_calls", "pg_stat_get_xact_function_self_time",
    "pg_stat_get_xact_function_total_time", "pg_stat_get_xact_numscans", "pg_stat_get_xact_tuples_deleted",
    "pg_stat_get_xact_tuples_fetched", "pg_stat_get_xact_tuples_hot_updated", "pg_stat_get_xact_tuples_inserted",
    "pg_stat_get_xact_tuples_returned", "pg_stat_get_xact_tuples_updated", "pg_stat_have_stats", "pg_stat_reset",
    "pg_stat_reset_replication_slot", "pg_stat_reset_shared", "pg_stat_reset_single_function_counters",
    "pg_stat_reset_single_table_counters", "pg_stat_reset_slru", "pg_stat_reset_subscription_stats",
    "pg_stop_making_pinned_objects", "pg_switch_wal", "pg_table_size", "pg_tablespace_size", "pg_terminate_backend",
    "pg_total_relation_size", "pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_try_advisory_xact_lock",
    "pg_try_advisory_xact_lock_shared", "pg_wal_replay_pause", "pg_wal_replay_resume", "pg_xact_commit_timestamp",
    "pg_xact_commit_timestamp_origin", "pg_xact_status", "plpgsql_call_handler", "plpgsql_inline_handler",
    "plpgsql_validator", "query_to_xml", "query_to_xml_and_xmlschema", "query_to_xmlschema", "random", "set_config",
    "setseed", "setval", "spghandler", "suppress_redundant_updates_trigger", "system", "timeofday", "ts_rewrite",
    "ts_stat", "tsvector_update_trigger", "tsvector_update_trigger_column", "txid_status", "unique_key_recheck",
})

__all__ = ["ALLOWED_EXTENSION_FUNCTIONS", "ALLOWED_VOLATILE", "BUILTIN_VOLATILE", "SQL_RUNNERS", "XID_ASSIGNERS"]
