package io.cqlnio.cassandra;

import io.cqlnio.cql.CqlClient;
import io.cqlnio.cql.CqlResult;
import io.cqlnio.cql.CqlServerException;
import io.cqlnio.cql.CqlTimeoutException;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.AtomicReferenceArray;

/**
 * The load of the real-node fault tests: {@value #PRODUCERS} producer threads keep {@value #IN_FLIGHT} requests in
 * flight in total over one or more {@link CqlClient}s, each request a prepared INSERT of a key used once (the
 * request's index), or with {@link #selectEvery} a prepared SELECT of a key already acknowledged, whose one row
 * must name that key. Every request's ending is recorded once per completion of its future, so a request that
 * ends twice or never is counted, not hidden.
 *
 * <p>A request's outcome is one of {@link Kind}; a RESULT of the wrong shape (a SELECT answered by another
 * request's void, or a row of another key) counts as a mismatch: what a late response taken for a newer request
 * would look like.
 *
 * <p>Threads: the producers are this object's own; the completions run on the clients' loop and timer threads.
 */
final class FaultLoad {

    static final int PRODUCERS = 4;
    static final int IN_FLIGHT = 128;
    /** Index space: far above what a test run issues (a few tens of thousands). */
    private static final int MAX_REQUESTS = 1 << 20;

    /** How a request ended. */
    enum Kind {
        /** a RESULT frame */
        RESULT,
        /** an ERROR frame ({@link CqlServerException}) */
        ERROR,
        /** the client's timer ({@link CqlTimeoutException}) */
        TIMEOUT,
        /** anything else: the connection closed, a write failed */
        TRANSPORT
    }

    private final List<CqlClient> clients;
    private final CqlResult.Prepared insert;
    private final CqlResult.Prepared select;
    private final int selectEvery;
    private final Semaphore permits = new Semaphore(IN_FLIGHT);
    private final AtomicLong next = new AtomicLong();
    private final AtomicIntegerArray endings = new AtomicIntegerArray(MAX_REQUESTS);
    /** Kind ordinal + 1 once ended; 0 while in flight. */
    private final AtomicIntegerArray outcomes = new AtomicIntegerArray(MAX_REQUESTS);
    /** {@link #INSERT} or {@link #SELECT} once issued; 0 for an index taken but not issued (the load stopped). */
    private final AtomicIntegerArray issued = new AtomicIntegerArray(MAX_REQUESTS);
    private static final int INSERT = 1;
    private static final int SELECT = 2;
    private final AtomicLong[] counts = new AtomicLong[Kind.values().length];
    private final AtomicLong endedTwice = new AtomicLong();
    private final AtomicLong mismatches = new AtomicLong();
    private final AtomicReference<String> firstMismatch = new AtomicReference<>();
    private final AtomicLong lastAcknowledgedInsert = new AtomicLong(-1);
    /** Failures by class and message with connection names and ports taken out, e.g. for the report. */
    private final Map<String, AtomicLong> transportCauses = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> serverErrors = new ConcurrentHashMap<>();
    private final AtomicReferenceArray<Throwable> producerFailures = new AtomicReferenceArray<>(PRODUCERS);
    private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
    private final List<Thread> producers = new ArrayList<>();
    private volatile boolean stopped;

    private record Waiter(Kind kind, long count, CompletableFuture<Void> reached) {
    }

    /**
     * @param selectEvery 0 for inserts only; n for a SELECT of an acknowledged key as every n-th request
     */
    FaultLoad(List<CqlClient> clients, CqlResult.Prepared insert, CqlResult.Prepared select, int selectEvery) {
        this.clients = List.copyOf(clients);
        this.insert = insert;
        this.select = select;
        this.selectEvery = selectEvery;
        for (int i = 0; i < counts.length; i++) {
            counts[i] = new AtomicLong();
        }
    }

    /** The value stored with key {@code k}: read back and compared. */
    static long valueOf(long k) {
        return k * 7 + 3;
    }

    void start() {
        for (int p = 0; p < PRODUCERS; p++) {
            int producer = p;
            Thread t = new Thread(() -> {
                try {
                    produce();
                } catch (Throwable e) {
                    producerFailures.set(producer, e);
                }
            }, "fault-load-" + p);
            t.setDaemon(true);
            producers.add(t);
            t.start();
        }
    }

    /**
     * Issues requests until {@link #stopAndAwait} or until every client's connection is closed (a request on a
     * closed client fails at once, so going on would only spin).
     */
    private void produce() throws InterruptedException {
        while (!stopped) {
            // A free slot, or the stop: requests that never end keep every slot, and stopAndAwait names them.
            if (!permits.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                continue;
            }
            long i = next.getAndIncrement();
            CqlClient client = stopped || i >= MAX_REQUESTS ? null : openClient(i);
            if (client == null) {
                permits.release();   // index i stays not issued
                stopped = stopped || i >= MAX_REQUESTS;
                return;
            }
            long acknowledged = lastAcknowledgedInsert.get();
            boolean isSelect = selectEvery > 0 && i % selectEvery == 0 && acknowledged >= 0;
            int index = (int) i;
            CompletableFuture<CqlResult> response;
            issued.set(index, isSelect ? SELECT : INSERT);
            try {
                if (isSelect) {
                    response = client.execute(select, acknowledged);
                } else {
                    response = client.execute(insert, i, valueOf(i));
                }
            } catch (RuntimeException thrown) {
                response = CompletableFuture.failedFuture(thrown);
            }
            response.whenComplete((result, failure) -> {
                try {
                    record(index, isSelect ? acknowledged : -1, result, failure);
                } finally {
                    permits.release();
                }
            });
        }
    }

    private CqlClient openClient(long i) {
        int n = clients.size();
        for (int k = 0; k < n; k++) {
            CqlClient c = clients.get((int) ((i + k) % n));
            if (c.closedNotifications() == 0 && c.connection().isOpen()) {
                return c;
            }
        }
        return null;
    }

    private void record(int index, long selectedKey, CqlResult result, Throwable failure) {
        if (endings.incrementAndGet(index) > 1) {
            endedTwice.incrementAndGet();
            return;
        }
        Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                ? failure.getCause() : failure;
        Kind kind;
        if (cause == null) {
            kind = Kind.RESULT;
            checkShape(index, selectedKey, result);
        } else if (cause instanceof CqlServerException e) {
            kind = Kind.ERROR;
            serverErrors.computeIfAbsent(String.format("0x%04X %s", e.code(), e.serverMessage()),
                    k -> new AtomicLong()).incrementAndGet();
        } else if (cause instanceof CqlTimeoutException) {
            kind = Kind.TIMEOUT;
        } else {
            kind = Kind.TRANSPORT;
            transportCauses.computeIfAbsent(cause.getClass().getSimpleName() + ": " + generic(cause.getMessage()),
                    k -> new AtomicLong()).incrementAndGet();
        }
        outcomes.set(index, kind.ordinal() + 1);
        long n = counts[kind.ordinal()].incrementAndGet();
        for (Waiter w : waiters) {
            if (w.kind == kind && n >= w.count) {
                w.reached.complete(null);
            }
        }
    }

    /**
     * A failure message with what differs between connections taken out ({@code cqlnio#12[...]},
     * {@code cql-client-3}, ephemeral ports), so that equal causes group in the report.
     */
    static String generic(String message) {
        return String.valueOf(message)
                .replaceAll("cqlnio#\\d+\\[[^\\]]*\\]", "<connection>")
                .replaceAll("cql-client-\\d+", "<client>");
    }

    private void checkShape(int index, long selectedKey, CqlResult result) {
        String wrong = null;
        if (selectedKey < 0) {
            if (!(result instanceof CqlResult.Void)) {
                wrong = "INSERT " + index + " answered with " + result;
            } else {
                lastAcknowledgedInsert.accumulateAndGet(index, Math::max);
            }
        } else if (!(result instanceof CqlResult.Rows rows) || rows.rows().size() != 1
                || !Long.valueOf(selectedKey).equals(rows.value(0, "k"))) {
            wrong = "SELECT of key " + selectedKey + " (request " + index + ") answered with " + result;
        }
        if (wrong != null) {
            mismatches.incrementAndGet();
            firstMismatch.compareAndSet(null, wrong);
        }
    }

    /** Completes once {@code count} requests ended as {@code kind}. */
    CompletableFuture<Void> when(Kind kind, long count) {
        Waiter w = new Waiter(kind, count, new CompletableFuture<>());
        waiters.add(w);
        if (count(kind) >= count) {
            w.reached.complete(null);
        }
        return w.reached;
    }

    /** Waits, at most {@code timeout}, for {@code count} requests to end as {@code kind}; fails naming the counts. */
    void await(Kind kind, long count, Duration timeout) throws InterruptedException {
        try {
            when(kind, count).get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new AssertionError("not " + count + " " + kind + " within " + timeout + ": " + this, e);
        }
    }

    long count(Kind kind) {
        return counts[kind.ordinal()].get();
    }

    /**
     * Stops issuing, then waits at most {@code timeout} for every request in flight to end.
     *
     * @return the summary, every request checked
     * @throws AssertionError when a producer failed or requests did not end in time
     */
    Summary stopAndAwait(Duration timeout) throws InterruptedException {
        stopped = true;
        for (Thread t : producers) {
            t.join(timeout.toMillis());
            if (t.isAlive()) {
                throw new AssertionError(t.getName() + " did not stop within " + timeout + ": " + this);
            }
        }
        for (int p = 0; p < PRODUCERS; p++) {
            if (producerFailures.get(p) != null) {
                throw new AssertionError("producer " + p + " failed: " + this, producerFailures.get(p));
            }
        }
        if (!permits.tryAcquire(IN_FLIGHT, timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError((IN_FLIGHT - permits.availablePermits()) + " requests never ended within "
                    + timeout + " after the load stopped (request indexes " + unended(10) + "...); " + this);
        }
        permits.release(IN_FLIGHT);
        return new Summary(this);
    }

    private List<Integer> unended(int max) {
        List<Integer> list = new ArrayList<>();
        for (int i = 0; i < Math.min(next.get(), MAX_REQUESTS) && list.size() < max; i++) {
            if (issued.get(i) != 0 && endings.get(i) == 0) {
                list.add(i);
            }
        }
        return list;
    }

    @Override
    public String toString() {
        return "issued about " + next.get() + ", RESULT " + count(Kind.RESULT) + ", ERROR " + count(Kind.ERROR)
                + ", TIMEOUT " + count(Kind.TIMEOUT) + ", TRANSPORT " + count(Kind.TRANSPORT)
                + ", in flight " + (IN_FLIGHT - permits.availablePermits());
    }

    /** What the load did, taken once every request ended. */
    static final class Summary {
        final long issued;
        final long selectsIssued;
        final long[] counts = new long[Kind.values().length];
        final long endedTwice;
        final long neverEnded;
        final long mismatches;
        final String firstMismatch;
        /** INSERT keys by how they ended. */
        final List<List<Long>> insertKeys = new ArrayList<>();
        /** e.g. {@code ConnectionClosedException: <client> closed: ... Connection reset} to its count */
        final Map<String, Long> transportCauses = new TreeMap<>();
        /** e.g. {@code 0x1001 ...} to its count */
        final Map<String, Long> serverErrors = new TreeMap<>();

        Summary(FaultLoad load) {
            for (Kind k : Kind.values()) {
                insertKeys.add(new ArrayList<>());
            }
            long requests = 0;
            long selectCount = 0;
            long never = 0;
            long taken = Math.min(load.next.get(), MAX_REQUESTS);
            for (int i = 0; i < taken; i++) {
                int type = load.issued.get(i);
                if (type == 0) {
                    continue;
                }
                requests++;
                int outcome = load.outcomes.get(i);
                if (load.endings.get(i) == 0 || outcome == 0) {
                    never++;
                    continue;
                }
                counts[outcome - 1]++;
                if (type == SELECT) {
                    selectCount++;
                } else {
                    insertKeys.get(outcome - 1).add((long) i);
                }
            }
            issued = requests;
            selectsIssued = selectCount;
            neverEnded = never;
            endedTwice = load.endedTwice.get();
            mismatches = load.mismatches.get();
            firstMismatch = load.firstMismatch.get();
            load.transportCauses.forEach((k, v) -> transportCauses.put(k, v.get()));
            load.serverErrors.forEach((k, v) -> serverErrors.put(k, v.get()));
        }

        long count(Kind kind) {
            return counts[kind.ordinal()];
        }

        List<Long> inserts(Kind kind) {
            return insertKeys.get(kind.ordinal());
        }

        /** The exactly-once check: every issued request ended once, and the kinds add up to the requests. */
        void assertEveryRequestEndedOnce(String scenario) {
            long sum = 0;
            for (long c : counts) {
                sum += c;
            }
            if (neverEnded != 0 || endedTwice != 0 || sum != issued) {
                throw new AssertionError(scenario + ": " + issued + " requests, " + sum + " outcomes, "
                        + neverEnded + " never ended, " + endedTwice + " ended twice: " + this);
            }
        }

        /** Transport failures that are a {@code type}, by their class's simple name. */
        long transportFailures(Class<? extends Throwable> type) {
            return transportCauses.entrySet().stream()
                    .filter(e -> e.getKey().startsWith(type.getSimpleName() + ":"))
                    .mapToLong(Map.Entry::getValue).sum();
        }

        /** e.g. {@code 253x ConnectionClosedException: <client> closed: ...}. */
        String transportCausesText() {
            return countsText(transportCauses);
        }

        private static String countsText(Map<String, Long> counts) {
            if (counts.isEmpty()) {
                return "none";
            }
            StringBuilder b = new StringBuilder();
            counts.forEach((what, n) -> {
                if (b.length() > 0) {
                    b.append(" | ");
                }
                b.append(n).append("x ").append(what.length() > 200 ? what.substring(0, 200) + "..." : what);
            });
            return b.toString();
        }

        @Override
        public String toString() {
            return issued + " requests (" + selectsIssued + " SELECTs): " + count(Kind.RESULT) + " RESULT, "
                    + count(Kind.ERROR) + " ERROR" + (serverErrors.isEmpty() ? "" : " (" + countsText(serverErrors) + ")")
                    + ", " + count(Kind.TIMEOUT) + " timeouts, "
                    + count(Kind.TRANSPORT) + " transport failures (" + transportCausesText() + ")";
        }
    }
}
