package io.cqlnio.demo;

import io.cqlnio.spi.Connection;
import io.cqlnio.spi.ConnectionStats;
import io.cqlnio.spi.Transport;
import io.cqlnio.spi.TransportConfig;
import io.cqlnio.spi.Transports;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The transport's main job in one screen, without Cassandra: a tiny peer on 127.0.0.1 with a 4 KiB receive
 * buffer, a transport with a 4 KiB send buffer, producer threads pushing CQL-shaped frames of mixed sizes
 * (the origin story's 9 + 23,928-byte frame among them). Short writes are certain; the peer checks every
 * byte of every frame and the per-producer order.
 *
 * <pre>mvn -B -q install -DskipTests &amp;&amp; mvn -B -q -pl transport-tests exec:java@loopback</pre>
 * Arguments: [transport name, default nio] [frames, default 200000] [producers, default 4].
 */
public final class LoopbackDemo {

    private static final int HEADER = 9;
    private static final int STORY_BODY = 23_928;

    private LoopbackDemo() {
    }

    public static void main(String[] args) throws Exception {
        String transportName = args.length > 0 ? args[0] : "nio";
        int frames = args.length > 1 ? Integer.parseInt(args[1]) : 200_000;
        int producers = args.length > 2 ? Integer.parseInt(args[2]) : 4;
        int perProducer = frames / producers;
        frames = perProducer * producers;

        AtomicReference<String> corruption = new AtomicReference<>();
        AtomicLong bytesAtPeer = new AtomicLong();
        CountDownLatch arrived = new CountDownLatch(frames);
        try (ServerSocket server = new ServerSocket()) {
            server.setReceiveBufferSize(4096);
            server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            Thread peer = new Thread(() -> readFrames(server, producers, arrived, bytesAtPeer, corruption), "peer");
            peer.setDaemon(true);
            peer.start();

            TransportConfig config = TransportConfig.builder().sendBufferSize(4096).build();
            try (Transport transport = Transports.create(transportName, config)) {
                Connection c = transport.connect((InetSocketAddress) server.getLocalSocketAddress(), (conn, f) -> { })
                        .get(5, TimeUnit.SECONDS);
                AtomicLong acknowledged = new AtomicLong();
                AtomicLong failed = new AtomicLong();
                long start = System.nanoTime();
                Thread[] threads = new Thread[producers];
                for (int p = 0; p < producers; p++) {
                    int producer = p;
                    threads[p] = new Thread(() -> {
                        SplittableRandom random = new SplittableRandom(producer);
                        for (int seq = 0; seq < perProducer; seq++) {
                            int r = random.nextInt(100);
                            int body = r < 2 ? STORY_BODY : r < 10 ? 1024 + random.nextInt(4096) : 16 + random.nextInt(240);
                            c.write(frame(producer, seq, body), failure -> {
                                if (failure == null) {
                                    acknowledged.incrementAndGet();
                                } else {
                                    failed.incrementAndGet();
                                }
                            });
                            while (!c.isWritable()) {
                                Thread.onSpinWait(); // respect the high watermark, as a driver would
                            }
                        }
                    }, "producer-" + p);
                    threads[p].start();
                }
                for (Thread t : threads) {
                    t.join();
                }
                boolean complete = arrived.await(120, TimeUnit.SECONDS);
                double seconds = (System.nanoTime() - start) / 1e9;
                ConnectionStats s = c.stats();
                c.close().get(10, TimeUnit.SECONDS);

                System.out.printf("transport        %s%n", transportName);
                System.out.printf("frames           %,d from %d producers (2%% are the story's 23,937-byte frame)%n",
                        frames, producers);
                System.out.printf("throughput       %,.0f frames/s, %,.1f MB/s%n", frames / seconds,
                        bytesAtPeer.get() / seconds / 1e6);
                System.out.printf("bytes written    %,d%n", s.bytesWritten());
                System.out.printf("write calls      %,d (%.1f frames per call)%n", s.writeCalls(),
                        (double) s.framesWritten() / Math.max(1, s.writeCalls()));
                System.out.printf("short writes     %,d (%,d of them zero-byte)%n", s.shortWrites(), s.zeroByteWrites());
                System.out.printf("wakeups          %,d%n", s.wakeups());
                System.out.printf("listeners        %,d ok, %,d failed%n", acknowledged.get(), failed.get());
                boolean intact = complete && corruption.get() == null && acknowledged.get() == frames;
                System.out.printf("loopback: %s %,d/%,d frames arrived intact, %,d short writes%n",
                        intact ? "OK" : "FAILED", frames - arrived.getCount(), frames, s.shortWrites());
                if (!intact) {
                    System.out.println("first problem: " + corruption.get());
                    System.exit(1);
                }
            }
        }
    }

    static ByteBuffer frame(int producer, int seq, int body) {
        ByteBuffer b = ByteBuffer.allocateDirect(HEADER + body);
        b.put((byte) 0x04).put((byte) 0).putShort((short) producer).put((byte) 0x07).putInt(body);
        b.putInt(producer).putInt(seq);
        for (int i = 8; i < body; i++) {
            b.put((byte) (producer * 31 + seq * 17 + i * 7));
        }
        return b.flip();
    }

    private static void readFrames(ServerSocket server, int producers, CountDownLatch arrived, AtomicLong bytes,
                                   AtomicReference<String> corruption) {
        int[] next = new int[producers];
        try (Socket s = server.accept();
             DataInputStream in = new DataInputStream(new BufferedInputStream(s.getInputStream(), 65536))) {
            byte[] header = new byte[HEADER];
            while (true) {
                try {
                    in.readFully(header);
                } catch (EOFException e) {
                    return;
                }
                ByteBuffer h = ByteBuffer.wrap(header);
                int body = h.getInt(5);
                if (header[0] != 0x04 || body < 8 || body > STORY_BODY) {
                    corruption.compareAndSet(null, String.format("bad header after %,d bytes: version 0x%02x, length %d",
                            bytes.get(), header[0], body));
                    return;
                }
                byte[] b = new byte[body];
                in.readFully(b);
                ByteBuffer bb = ByteBuffer.wrap(b);
                int producer = bb.getInt(0);
                int seq = bb.getInt(4);
                if (producer < 0 || producer >= producers || seq != next[producer]) {
                    corruption.compareAndSet(null, "frame " + producer + "/" + seq + " out of order");
                    return;
                }
                for (int i = 8; i < body; i++) {
                    if (b[i] != (byte) (producer * 31 + seq * 17 + i * 7)) {
                        corruption.compareAndSet(null, "frame " + producer + "/" + seq + " torn at byte " + i);
                        return;
                    }
                }
                next[producer]++;
                bytes.addAndGet(HEADER + body);
                arrived.countDown();
            }
        } catch (IOException e) {
            corruption.compareAndSet(null, "peer failed: " + e);
        }
    }
}
