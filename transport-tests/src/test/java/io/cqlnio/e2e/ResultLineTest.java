package io.cqlnio.e2e;

import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ResultLineTest {

    @Test
    void aCellTravelsAndComesBackEqual() {
        Cell cell = new Cell(Workload.W3, Variant.TLS, 128, 1000, 3000);
        assertEquals(cell, Cell.parse(cell.toLine()));
    }

    @Test
    void fieldsKeepTheirOrder() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("client", "cql-nio");
        m.put("rps", "123.456");
        m.put("tlsProtocol", "TLSv1.3");
        assertEquals("client=cql-nio rps=123.456 tlsProtocol=TLSv1.3", ResultLine.format(m));
        assertEquals(m, ResultLine.parse(ResultLine.format(m)));
    }

    @Test
    void aValueThatWouldSplitTheLineIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ResultLine.format(Map.of("k", "two words")));
        assertThrows(IllegalArgumentException.class, () -> ResultLine.format(Map.of("k", "a=b")));
        assertThrows(IllegalArgumentException.class, () -> ResultLine.parse("novalue"));
    }
}
