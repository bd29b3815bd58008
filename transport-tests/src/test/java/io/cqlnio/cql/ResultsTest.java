package io.cqlnio.cql;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ResultsTest {

    @Test
    void rowsDecodeEveryMappedType() {
        UUID id = UUID.randomUUID();
        Frames.Writer w = new Frames.Writer(64);
        Responses.rows(w, List.of("i", "l", "s", "b", "f", "u", "n"),
                List.of(Values.INT, Values.BIGINT, Values.VARCHAR, Values.BLOB, Values.BOOLEAN, Values.UUID_TYPE,
                        Values.INT),
                List.of(Arrays.asList(1, 2L, "three", new byte[] {4}, true, id, null),
                        Arrays.asList(-1, Long.MIN_VALUE, "", new byte[0], false, id, 9)));
        CqlResult.Rows rows = assertInstanceOf(CqlResult.Rows.class, decode(4, w));
        assertEquals(7, rows.columns().size());
        assertEquals("ks", rows.columns().get(0).keyspace());
        assertEquals(2, rows.rows().size());
        assertEquals(1, rows.value(0, "i"));
        assertEquals(2L, rows.value(0, "l"));
        assertEquals("three", rows.value(0, "s"));
        assertArrayEquals(new byte[] {4}, (byte[]) rows.value(0, "b"));
        assertEquals(true, rows.value(0, "f"));
        assertEquals(id, rows.value(0, "u"));
        assertNull(rows.value(0, "n"));
        assertEquals(Long.MIN_VALUE, rows.value(1, "l"));
        assertEquals(false, rows.value(1, "f"));
        assertEquals(9, rows.value(1, "n"));
        assertNull(rows.pagingState());
    }

    @Test
    void rowsWithPerColumnSpecsPagingStateAndCollections() {
        Frames.Writer w = new Frames.Writer(64);
        w.putInt(2);
        w.putInt(0x0002);                    // has_more_pages, no global spec
        w.putInt(2);
        w.putInt(3);
        w.putRaw(new byte[] {7, 7, 7});      // paging state
        w.string("ks1");
        w.string("t1");
        w.string("m");
        w.putShort(Values.MAP);
        w.putShort(Values.VARCHAR);
        w.putShort(Values.LIST);
        w.putShort(Values.INT);
        w.string("ks2");
        w.string("t2");
        w.string("c");
        w.putShort(Values.COUNTER);
        w.putInt(1);
        w.value(new byte[] {0, 0, 0, 0});    // an empty map, left raw
        w.value(42L);
        CqlResult.Rows rows = assertInstanceOf(CqlResult.Rows.class, decode(4, w));
        assertArrayEquals(new byte[] {7, 7, 7}, rows.pagingState());
        assertEquals("ks2", rows.columns().get(1).keyspace());
        assertEquals(List.of(CqlResult.ColumnType.of(Values.VARCHAR),
                new CqlResult.ColumnType(Values.LIST, null, List.of(CqlResult.ColumnType.of(Values.INT)))),
                rows.columns().get(0).type().parameters());
        assertArrayEquals(new byte[] {0, 0, 0, 0}, (byte[]) rows.value(0, "m"));
        assertEquals(42L, rows.value(0, "c"));
    }

    @Test
    void preparedV4AndV5() {
        for (int version : new int[] {4, 5}) {
            Frames.Writer w = new Frames.Writer(64);
            w.putInt(4);
            w.shortBytes(new byte[] {1, 2, 3});
            if (version == 5) {
                w.shortBytes(new byte[] {9});
            }
            w.putInt(0x0001);                // prepared metadata: global spec
            w.putInt(2);
            w.putInt(1);                     // one partition key column...
            w.putShort(0);                   // ...at index 0
            w.string("ks");
            w.string("t");
            w.string("k");
            w.putShort(Values.INT);
            w.string("v");
            w.putShort(Values.VARCHAR);
            w.putInt(0x0004);                // result metadata: no_metadata
            w.putInt(0);
            CqlResult.Prepared p = assertInstanceOf(CqlResult.Prepared.class, decode(version, w));
            assertArrayEquals(new byte[] {1, 2, 3}, p.id());
            assertArrayEquals(version == 5 ? new byte[] {9} : new byte[0], p.resultMetadataId());
            assertEquals(List.of("k", "v"), p.variables().stream().map(CqlResult.ColumnSpec::name).toList());
            assertEquals(List.of(), p.resultColumns());
        }
    }

    @Test
    void schemaChangeSetKeyspaceAndVoid() {
        Frames.Writer table = new Frames.Writer(64);
        table.putInt(5);
        table.string("CREATED");
        table.string("TABLE");
        table.string("ks");
        table.string("t");
        assertEquals(new CqlResult.SchemaChange("CREATED", "TABLE", "ks", "t"), decode(4, table));

        Frames.Writer ks = new Frames.Writer(64);
        ks.putInt(5);
        ks.string("DROPPED");
        ks.string("KEYSPACE");
        ks.string("ks");
        assertEquals(new CqlResult.SchemaChange("DROPPED", "KEYSPACE", "ks", null), decode(4, ks));

        Frames.Writer use = new Frames.Writer(8);
        use.putInt(3);
        use.string("ks");
        assertEquals(new CqlResult.SetKeyspace("ks"), decode(4, use));

        Frames.Writer none = new Frames.Writer(8);
        none.putInt(1);
        assertEquals(new CqlResult.Void(), decode(4, none));
    }

    @Test
    void malformedResultsFailWithAMessageNotAnUnderflow() {
        Frames.Writer unknown = new Frames.Writer(8);
        unknown.putInt(99);
        assertThrows(IllegalArgumentException.class, () -> decode(4, unknown));

        Frames.Writer truncated = new Frames.Writer(8);
        truncated.putInt(2);
        truncated.putInt(0);
        truncated.putInt(1);                 // one column, then nothing
        assertThrows(IllegalArgumentException.class, () -> decode(4, truncated));

        Frames.Writer badInt = new Frames.Writer(64);
        Responses.rows(badInt, List.of("i"), List.of(Values.INT), List.of(List.of(5L)));   // 8 bytes for an int
        assertThrows(IllegalArgumentException.class, () -> decode(4, badInt));
    }

    @Test
    void rowsWithoutMetadataDecodeWithThePreparedColumns() {
        CqlResult.ColumnSpec v = new CqlResult.ColumnSpec("ks", "t", "v", CqlResult.ColumnType.of(Values.VARCHAR));
        CqlResult.ColumnSpec n = new CqlResult.ColumnSpec("ks", "t", "n", CqlResult.ColumnType.of(Values.INT));
        Frames.Writer w = new Frames.Writer(64);
        w.putInt(2);                         // Rows
        w.putInt(0x0004);                    // no_metadata
        w.putInt(2);                         // two columns
        w.putInt(1);                         // one row
        w.value("text");
        w.value(7);
        byte[] body = w.toArray();

        CqlResult.Rows rows = assertInstanceOf(CqlResult.Rows.class,
                Results.decode(4, new Frames.Reader(ByteBuffer.wrap(body)), List.of(v, n)));
        assertEquals(List.of(List.of("text", 7)), rows.rows());
        assertEquals("v", rows.columns().get(0).name());

        // Without the prepared columns (or with the wrong count) the values stay raw bytes.
        CqlResult.Rows raw = assertInstanceOf(CqlResult.Rows.class,
                Results.decode(4, new Frames.Reader(ByteBuffer.wrap(body)), List.of(v)));
        assertArrayEquals("text".getBytes(java.nio.charset.StandardCharsets.UTF_8), (byte[]) raw.rows().get(0).get(0));
    }

    private static CqlResult decode(int version, Frames.Writer w) {
        return Results.decode(version, new Frames.Reader(ByteBuffer.wrap(w.toArray())));
    }
}
