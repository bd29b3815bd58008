/**
 * The soak (issue 16): {@link io.cqlnio.soak.SoakMain} runs many connections against an echo peer in a child JVM
 * ({@link io.cqlnio.soak.SoakPeer}) for minutes, closing, aborting and replacing some every second, checks every
 * echo byte for byte and every outcome once, samples the process's heap after GC, direct and mapped buffers,
 * descriptors, threads and the loops' busy time, and fails if any of them grows ({@code Verdict}).
 *
 * <p>Parts: {@code FrameShape} (what frame n of a connection is, so an echo is checked without a copy),
 * {@code FramePool} (the fixed direct buffers frames are written from), {@code Writer} (the one writing thread),
 * {@code SoakConnection} and {@code FrameOutcome} (the checks on one connection and one frame), {@code Tally}
 * (counts), {@code Sampler} and {@code Sample} (the metrics), {@code Verdict} (the criterion), {@code SoakRun}
 * (one run), {@code SoakSettings} (its options).
 */
package io.cqlnio.soak;
