package io.cqlnio.e2e;

import io.cqlnio.origin.OriginStory;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;

class WorkloadTest {

    @Test
    void w3BindsTheOriginStorysText() {
        assertEquals(OriginStory.CONTENT, Workload.ORIGIN_TEXT);
        assertEquals(OriginStory.CONTENT, Workload.W3.text());
    }

    @Test
    void w1AndW2CarryOneKibibyte() {
        assertEquals(1024, Workload.KIB_TEXT.getBytes(StandardCharsets.UTF_8).length);
        assertEquals(Workload.KIB_TEXT, Workload.W1.text());
    }

    @Test
    void keysCycle() {
        assertEquals(0, Workload.W2.key(Workload.W2.keys));
        assertEquals(7, Workload.W1.key(7));
    }
}
