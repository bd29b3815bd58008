package io.cqlnio.cql;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StreamIdsTest {

    @Test
    void handsOutEveryIdOnceThenNone() {
        StreamIds ids = new StreamIds(CqlClient.MAX_STREAMS);
        BitSet seen = new BitSet();
        for (int i = 0; i < CqlClient.MAX_STREAMS; i++) {
            int id = ids.acquire();
            assertFalse(seen.get(id), "id " + id + " handed out twice");
            seen.set(id);
        }
        assertEquals(CqlClient.MAX_STREAMS, seen.cardinality());
        assertEquals(32767, seen.length() - 1, "largest id");
        assertEquals(-1, ids.acquire());
        ids.release(123);
        assertEquals(123, ids.acquire());
    }

    @Test
    void releasingMoreThanWasAcquiredIsABug() {
        StreamIds ids = new StreamIds(2);
        assertThrows(IllegalStateException.class, () -> ids.release(0));
    }

    @Test
    void releasingAnIdTwiceIsABugEvenWhileOthersAreHeld() {
        // Two requests held, one released twice: the stack is not full, so only tracking what is held catches it.
        StreamIds ids = new StreamIds(4);
        int a = ids.acquire();
        ids.acquire();
        ids.release(a);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ids.release(a));
        assertEquals(3, ids.available(), "the second release must not free anything");
        assertThrows(IllegalStateException.class, () -> ids.release(-1));
        assertThrows(IllegalStateException.class, () -> ids.release(4));
        assertFalse(e.getMessage().isEmpty());
    }
}
