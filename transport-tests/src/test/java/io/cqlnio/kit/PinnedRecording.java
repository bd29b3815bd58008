package io.cqlnio.kit;

import jdk.jfr.Recording;
import jdk.jfr.consumer.RecordedEvent;
import jdk.jfr.consumer.RecordedFrame;
import jdk.jfr.consumer.RecordedStackTrace;
import jdk.jfr.consumer.RecordedThread;
import jdk.jfr.consumer.RecordingFile;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Collectors;

/**
 * An in-process JFR recording of {@code jdk.VirtualThreadPinned} (threshold 0, with stack traces): every time a
 * virtual thread of this JVM blocked or parked while it could not leave its carrier. Since JDK 24 (JEP 491) a
 * {@code synchronized} block no longer pins, and {@code -Djdk.tracePinnedThreads} is gone: this event is the one
 * way left to see what still pins (native frames on the stack, class initialisers). JDK 21+ only: on 17 the event
 * does not exist (the tests that use this skip there first).
 *
 * <p>Only blocking counts: a pinned stretch in which the thread never blocks (a non-blocking syscall, a temporary
 * direct buffer used on the carrier) holds the carrier for the call's own duration and records nothing.
 */
final class PinnedRecording implements AutoCloseable {

    static final String EVENT = "jdk.VirtualThreadPinned";

    private final Recording recording = new Recording();

    /** Starts recording. */
    PinnedRecording() {
        recording.setName("cqlnio-pinned");
        recording.enable(EVENT).withThreshold(Duration.ZERO).withStackTrace();
        recording.start();
    }

    /** Stops the recording and returns every pinned event it holds. */
    List<RecordedEvent> stop() throws IOException {
        recording.stop();
        Path file = Files.createTempFile("cqlnio-pinned", ".jfr");
        try {
            recording.dump(file);
            return RecordingFile.readAllEvents(file).stream()
                    .filter(e -> e.getEventType().getName().equals(EVENT))
                    .collect(Collectors.toList());
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** One event on a few lines: thread, how long it stayed pinned, and its stack (up to {@code frames} frames). */
    static String describe(RecordedEvent e, int frames) {
        RecordedThread t = e.getThread();
        StringBuilder s = new StringBuilder()
                .append(t == null ? "?" : t.getJavaName()).append(" pinned ")
                .append(e.getDuration().toNanos() / 1000).append(" us");
        RecordedStackTrace stack = e.getStackTrace();
        if (stack != null) {
            List<RecordedFrame> all = stack.getFrames();
            for (RecordedFrame f : all.subList(0, Math.min(frames, all.size()))) {
                s.append("\n    at ").append(f.getMethod().getType().getName()).append('.')
                        .append(f.getMethod().getName()).append(':').append(f.getLineNumber());
            }
        }
        return s.toString();
    }

    /** {@link #describe} of each, one after another. */
    static String describe(List<RecordedEvent> events, int frames) {
        return events.stream().map(e -> describe(e, frames)).collect(Collectors.joining("\n"));
    }

    @Override
    public void close() {
        recording.close();
    }
}
