package io.cqlnio.e2e;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One running {@link ClientMain} JVM, seen from {@link E2eRun}: cells go in on its stdin, result lines come back on
 * its stdout, its stderr goes to a log file. Not thread-safe: one owner.
 */
final class ClientProcess implements AutoCloseable {

    private static final Duration START_TIMEOUT = Duration.ofSeconds(60);
    /** Beyond a cell's own warm-up and window: connect, prepare, drain. */
    private static final Duration CELL_SLACK = Duration.ofSeconds(90);

    final String client;
    private final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final Path log;

    ClientProcess(String client, List<String> command, Path log) {
        this.client = client;
        this.log = log;
        try {
            process = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.appendTo(log.toFile()))
                    .start();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot start " + command, e);
        }
        stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    lines.add(line);
                }
            } catch (IOException ended) {
                // the process is gone; await() reports it
            }
        }, "e2e-" + client + "-stdout");
        reader.setDaemon(true);
        reader.start();
        String ready = await(START_TIMEOUT);
        if (!ClientMain.READY.equals(ready)) {
            throw new IllegalStateException(client + " did not start: " + ready + "; see " + log);
        }
    }

    long pid() {
        return process.pid();
    }

    /** Runs one cell; the client's result fields, or an exception naming the client's error and its log. */
    Map<String, String> run(Cell cell) {
        try {
            stdin.write(cell.toLine());
            stdin.write('\n');
            stdin.flush();
        } catch (IOException e) {
            throw new IllegalStateException(client + " is gone; see " + log, e);
        }
        String line = await(Duration.ofMillis(cell.warmupMs() + cell.measureMs()).plus(CELL_SLACK));
        if (line.startsWith(ClientMain.RESULT)) {
            return ResultLine.parse(line.substring(ClientMain.RESULT.length()));
        }
        throw new IllegalStateException(client + " failed " + cell.label() + ": " + line + "; see " + log);
    }

    /** The next protocol line, skipping anything else on stdout. */
    private String await(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                long left = deadline - System.nanoTime();
                String line = lines.poll(Math.max(0, left), TimeUnit.NANOSECONDS);
                if (line == null) {
                    return process.isAlive() ? "(no answer within " + timeout + ")"
                            : "(exited with status " + process.exitValue() + ")";
                }
                if (line.startsWith("E2E-")) {
                    return line;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "(interrupted)";
        }
    }

    @Override
    public void close() {
        try {
            stdin.write(ClientMain.QUIT + "\n");
            stdin.flush();
            stdin.close();
        } catch (IOException gone) {
            // already exited
        }
        try {
            if (!process.waitFor(20, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
