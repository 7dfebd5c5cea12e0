-- FerretDB 1.24 on PostgreSQL pushes equality filters down as `_jsonb -> 'f' @> '<value>'`, but the
-- indexes it creates for createIndexes (and for `_id`) are btree indexes on `(_jsonb -> 'f')`, which
-- cannot serve `@>`: every query scans the collection. This event trigger adds a GIN index beside each
-- btree index FerretDB creates, on the same field expressions, so those filters become index scans.
-- FerretDB keeps its own index list in its metadata table, so clients never see the extra indexes.
CREATE OR REPLACE FUNCTION fraiday_gin_beside_btree() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    field_expression text;
BEGIN
    FOR command IN
        SELECT c.objid, i.indrelid, i.indnkeyatts
        FROM pg_event_trigger_ddl_commands() AS c
        JOIN pg_index AS i ON i.indexrelid = c.objid
        JOIN pg_class AS ic ON ic.oid = c.objid
        JOIN pg_am AS am ON am.oid = ic.relam
        WHERE c.command_tag = 'CREATE INDEX' AND am.amname = 'btree'
    LOOP
        FOR key_number IN 1..command.indnkeyatts LOOP
            field_expression := pg_get_indexdef(command.objid, key_number, true);
            IF field_expression LIKE '(_jsonb -> %' THEN
                EXECUTE format(
                    'CREATE INDEX IF NOT EXISTS %I ON %s USING gin (%s)',
                    'gin_' || md5(command.indrelid::regclass::text || field_expression),
                    command.indrelid::regclass,
                    field_expression
                );
            END IF;
        END LOOP;
    END LOOP;
END;
$$;

DROP EVENT TRIGGER IF EXISTS fraiday_gin_beside_btree;
CREATE EVENT TRIGGER fraiday_gin_beside_btree ON ddl_command_end
    WHEN TAG IN ('CREATE INDEX')
    EXECUTE FUNCTION fraiday_gin_beside_btree();
