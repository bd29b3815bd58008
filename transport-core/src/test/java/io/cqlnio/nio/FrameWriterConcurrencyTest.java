package io.cqlnio.nio;

import io.cqlnio.testkit.TestFrames;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.Timeout;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Many producers enqueue while one thread plays the loop and flushes into a channel that takes random
 * amounts: the bytes out are exactly the frames, in per-producer order, and every listener fires once.
 */
class FrameWriterConcurrencyTest {

    @RepeatedTest(3)
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void producersAndARandomShortWriteChannel() throws Exception {
        int producers = Integer.getInteger("producers", 4);
        int perProducer = 20_000;
        WriteEntry.Pool pool = new WriteEntry.Pool(64);
        TestWriter writer = new TestWriter("test", pool, 1 << 20, 1 << 19, 1 << 20, 16);
        SplittableRandom scriptRandom = new SplittableRandom(7);
        ScriptedChannel channel = new ScriptedChannel(call -> scriptRandom.nextInt(3) == 0 ? 0 : scriptRandom.nextInt(1, 5000));
        AtomicIntegerArray fired = new AtomicIntegerArray(producers * perProducer);
        List<Thread> threads = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            int producer = p;
            Thread t = new Thread(() -> {
                SplittableRandom random = new SplittableRandom(producer);
                for (int seq = 0; seq < perProducer; seq++) {
                    int slot = producer * perProducer + seq;
                    writer.enqueue(TestFrames.frame(producer, seq, 8 + random.nextInt(200), false), null,
                            failure -> fired.incrementAndGet(slot));
                }
            });
            threads.add(t);
            t.start();
        }
        ByteBuffer[] iov = new ByteBuffer[16];
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (threads.stream().anyMatch(Thread::isAlive) || writer.pendingBytes() > 0) {
            writer.flush(channel, iov);
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not drained in 30 s: " + writer.pendingBytes() + " bytes pending");
            }
        }
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(FrameWriter.Flush.DRAINED, writer.flush(channel, iov));
        assertEquals(producers * perProducer, TestFrames.checkInterleaved(channel.bytes(), producers));
        for (int i = 0; i < fired.length(); i++) {
            assertEquals(1, fired.get(i), "listener " + i);
        }
    }
}
