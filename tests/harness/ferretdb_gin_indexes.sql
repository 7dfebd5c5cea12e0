-- FerretDB 1.24 on PostgreSQL pushes equality filters down as `_jsonb -> 'f' @> '<value>'`, but the
-- indexes it creates for createIndexes (and for `_id`) are btree indexes on `(_jsonb -> 'f')`, which
-- cannot serve `@>`: every query scans the collection. This event trigger adds a GIN index beside each
-- btree index FerretDB creates, on its leading field, so those filters become index scans. Only the
-- leading field, as a btree index serves its prefix: a GIN index on a later, unselective field (such
-- as `active`) would tempt the planner into AND-ing a bitmap of most of the table.
-- FerretDB keeps its own index list in its metadata table, so clients never see the extra indexes.
-- fastupdate is off: with it, inserts queue in a pending list that every search then reads in full.
CREATE OR REPLACE FUNCTION fraiday_gin_beside_btree() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    field_expression text;
BEGIN
    FOR command IN
        SELECT c.objid, i.indrelid
        FROM pg_event_trigger_ddl_commands() AS c
        JOIN pg_index AS i ON i.indexrelid = c.objid
        JOIN pg_class AS ic ON ic.oid = c.objid
        JOIN pg_am AS am ON am.oid = ic.relam
        WHERE c.command_tag = 'CREATE INDEX' AND am.amname = 'btree'
    LOOP
        field_expression := pg_get_indexdef(command.objid, 1, true);
        IF field_expression LIKE '(_jsonb -> %' THEN
            EXECUTE format(
                'CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s) WITH (fastupdate = off)',
                'gin_' || md5(command.indrelid::regclass::text || field_expression),
                command.indrelid::regclass,
                field_expression
            );
        END IF;
    END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS fraiday_gin_beside_btree;
CREATE EVENT TRIGGER fraiday_gin_beside_btree ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX')
    EXECUTE FUNCTION fraiday_gin_beside_btree();
