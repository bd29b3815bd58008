package io.cqlnio.kit;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionClosedException;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;
import io.cqlnio.testkit.Await;
import io.cqlnio.testkit.Closer;
import io.cqlnio.testkit.LoopbackPeer;
import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Calls back into the transport from its own callbacks and races its endings (invariants 2, 5 and 6): abort
 * from a write listener, close and write from handlers, {@code Transport.close()} from a loop thread, and a
 * graceful close racing four writers.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ReentrancyTest {

    private final Closer closer = new Closer();

    @AfterEach
    void closeAll() throws Exception {
        closer.close();
    }

    @EachTransport
    void abortFromAWriteListenerFailsEveryLaterFrameOnce(String name) throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, false, LoopbackPeer.discard()));
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().sendBufferSize(4096).build()));
        Recorder handler = new Recorder();
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        int frames = 2000;
        Outcomes outcomes = new Outcomes(frames);
        IllegalStateException cause = new IllegalStateException("aborted by listener 10");
        for (int i = 0; i < frames; i++) {
            int index = i;
            io.cqlnio.spi.WriteListener record = outcomes.listener(i);
            c.write(TestFrames.frame(0, i, 500, false), failure -> {
                record.onComplete(failure);
                if (index == 10 && failure == null) {
                    c.abort(cause);
                }
            });
        }
        outcomes.awaitAll();
        outcomes.assertExactlyOnceSuccessesFirst();
        assertSame(cause, handler.closed.get(5, TimeUnit.SECONDS));
        assertTrue(outcomes.successes() >= 11, "frame 10 succeeded, so did 0..9");
        assertTrue(outcomes.successes() < frames, "the abort failed nothing");
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void closeAndWriteFromHandlersAreSafe(String name) throws Exception {
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().build()));
        AtomicReference<Throwable> writeInOnClosed = new AtomicReference<>();
        AtomicReference<CompletableFuture<Void>> closing = new AtomicReference<>();
        Recorder handler = new Recorder() {
            @Override
            public void onFrame(Connection connection, ByteBuffer frame) {
                super.onFrame(connection, frame);
                if (frames.size() == 3) {
                    closing.set(connection.close()); // graceful close from the loop thread
                    connection.close();              // twice
                }
            }

            @Override
            public void onClosed(Connection connection, Throwable causeOrNull) {
                super.onClosed(connection, causeOrNull);
                connection.write(TestFrames.frame(0, 99, 8, false), writeInOnClosed::set);
            }
        };
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        for (int i = 0; i < 10; i++) {
            c.write(TestFrames.frame(0, i, 8, false), null);
        }
        assertNull(handler.closed.get(5, TimeUnit.SECONDS), "a graceful close from onFrame reports null");
        closing.get().get(5, TimeUnit.SECONDS);
        Await.until(() -> writeInOnClosed.get() != null, "the refusal of a write from onClosed");
        assertInstanceOf(ConnectionClosedException.class, writeInOnClosed.get());
        assertEquals(1, handler.closes.get());
        assertTrue(handler.breaches.isEmpty(), handler.breaches.toString());
    }

    @EachTransport
    void transportCloseFromALoopThreadDoesNotDeadlock(String name) throws Exception {
        Set<Thread> before = new HashSet<>(Thread.getAllStackTraces().keySet());
        LoopbackPeer peer = closer.add(new LoopbackPeer(0, false, LoopbackPeer.frames(null, true)));
        Transport transport = Transports.create(name, TransportConfig.builder().loops(2).build());
        CompletableFuture<Long> closedIn = new CompletableFuture<>();
        List<Recorder> handlers = new ArrayList<>();
        List<Connection> connections = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int index = i;
            Recorder r = new Recorder() {
                @Override
                public void onFrame(Connection connection, ByteBuffer frame) {
                    super.onFrame(connection, frame);
                    if (index == 0) {
                        long start = System.nanoTime();
                        transport.close(); // from the loop: must not wait for its own thread
                        closedIn.complete(Kit.millisSince(start));
                    }
                }
            };
            handlers.add(r);
            connections.add(transport.connect(peer.address(), r).get(5, TimeUnit.SECONDS));
        }
        connections.get(0).write(TestFrames.frame(0, 0, 8, false), null); // its echo closes the transport
        long millis = closedIn.get(20, TimeUnit.SECONDS);
        for (Recorder r : handlers) {
            r.closed.get(10, TimeUnit.SECONDS);
            assertEquals(1, r.closes.get());
            assertTrue(r.breaches.isEmpty(), r.breaches.toString());
        }
        Await.until(() -> TransportKitTest.newLiveThreads(before).isEmpty(), Kit.seconds(15),
                () -> "threads left after Transport.close() from a loop thread (returned in " + millis + " ms): "
                        + TransportKitTest.newLiveThreads(before));
    }

    @EachTransport
    void gracefulCloseRacingFourWritersTellsEveryFrameOnce(String name) throws Exception {
        int writers = 4;
        int perWriter = 20_000;
        AtomicIntegerArray atPeer = new AtomicIntegerArray(writers);
        List<String> peerOrder = new CopyOnWriteArrayList<>();
        LoopbackPeer peer = closer.add(new LoopbackPeer(4096, false, LoopbackPeer.frames((i, f) -> {
            int producer = f.getShort(2);
            int seq = TestFrames.check(f, producer);
            if (seq != atPeer.get(producer)) {
                peerOrder.add(producer + "/" + seq + " where " + atPeer.get(producer) + " was due");
            }
            atPeer.incrementAndGet(producer);
        })));
        Transport transport = closer.add(Transports.create(name, TransportConfig.builder().sendBufferSize(4096).build()));
        Recorder handler = new Recorder();
        Connection c = transport.connect(peer.address(), handler).get(5, TimeUnit.SECONDS);
        List<Outcomes> outcomes = new ArrayList<>();
        List<Thread> threads = new ArrayList<>();
        AtomicInteger written = new AtomicInteger();
        for (int w = 0; w < writers; w++) {
            Outcomes o = new Outcomes(perWriter);
            outcomes.add(o);
            int producer = w;
            Thread t = new Thread(() -> {
                for (int i = 0; i < perWriter; i++) {
                    c.write(TestFrames.frame(producer, i, 100, false), o.listener(i));
                    written.incrementAndGet();
                }
            }, "kit-writer-" + w);
            t.setDaemon(true);
            threads.add(t);
        }
        threads.forEach(Thread::start);
        Await.until(() -> written.get() > writers * perWriter / 4, "writers under way");
        CompletableFuture<Void> closed = c.close();
        for (Thread t : threads) {
            t.join(30_000);
            assertFalse(t.isAlive());
        }
        closed.get(30, TimeUnit.SECONDS);
        assertNull(handler.closed.get(5, TimeUnit.SECONDS));
        int totalSuccesses = 0;
        for (int w = 0; w < writers; w++) {
            Outcomes o = outcomes.get(w);
            o.awaitAll();
            o.assertExactlyOnceSuccessesFirst();
            o.failures.forEach(f -> assertInstanceOf(ConnectionClosedException.class, f));
            int successes = o.successes();
            totalSuccesses += successes;
            int producer = w;
            // A graceful close flushes everything it accepted: the peer gets exactly the frames told success.
            Await.until(() -> atPeer.get(producer) == successes, Kit.seconds(10),
                    () -> "writer " + producer + ": " + atPeer.get(producer) + " frames at the peer, " + successes
                            + " told success");
        }
        assertTrue(peerOrder.isEmpty(), peerOrder.toString());
        assertTrue(totalSuccesses > 0 && totalSuccesses < writers * perWriter,
                "the close raced nothing: " + totalSuccesses + " successes");
    }
}
