package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Blackhole;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.TestConfig;
import dev.ferry.support.Peer;
import dev.ferry.support.Peer.Digest;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Direction;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.BOTH_AT_ONCE;
import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.IN_ORDER;
import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.OTHER_RESETS;
import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.RESET_AFTER_FIN;
import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.RESET_AFTER_FIN_QUIET;
import static dev.ferry.proxy.HalfCloseMatrixTest.Ending.SILENT;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Half-close in every phase of a connection, from either side, and the ways a half-closed connection can end: each
 * cell is a real exchange on loopback with a fresh Ferry. One side (the "first") sends its bytes and its FIN; the
 * other reads them to the end, answers and closes; the first reads the answer to the end and closes. Every cell
 * asserts, besides what {@link FaultMatrixTest} asserts (reason and side, both peers closed, one release, one
 * access-log line, every gauge at 0, no leak, no detected double free), that every byte arrived, byte for byte.
 */
class HalfCloseMatrixTest {

  /** Where the connection is when the first FIN comes. */
  enum Phase {
    /** The client's request and FIN arrive while the upstream is still connecting (the first attempt hangs). */
    CONNECTING,
    /** Bytes move both ways when the FIN comes. */
    ESTABLISHED,
    /** The FIN's direction is paused: its sink reads nothing until the FIN has been sent (buffer.soft-limit). */
    BACKPRESSURED,
    /** The FIN's direction is paused by its listener's share of limits.max-buffered-bytes, not by its sink. */
    BUDGET_PAUSED,
    /** Ferry is draining on shutdown. */
    DRAINING,
    /** Both directions are bulk streams that move with splice(2). */
    SPLICED
  }

  enum Ending {
    /** The other side reads to the FIN, answers and closes: the exchange completes. */
    IN_ORDER,
    /** Both sides send their bytes and their FIN at the same time. */
    BOTH_AT_ONCE,
    /** The first side resets while the other still sends to it. */
    RESET_AFTER_FIN,
    /** The first side resets while nothing is sent to it (Ferry no longer reads it; the sweep asks the kernel). */
    RESET_AFTER_FIN_QUIET,
    /** The other side resets as the first side's FIN is on its way: Ferry's FIN finds it gone. */
    OTHER_RESETS,
    /** The other side never answers nor closes: close.half-closed-timeout. */
    SILENT
  }

  /** {@code side} null: either side may be recorded (two FINs at once). */
  record Cell(Side first, Phase phase, Ending ending, CloseReason reason, Side side) {
    @Override
    public String toString() {
      return "FIN from " + first.label() + " while " + phase + ", " + ending + " -> " + reason + "/"
        + (side == null ? "either" : side.label());
    }
  }

  static List<Cell> cells() {
    List<Cell> cells = new ArrayList<>();
    cells.add(new Cell(Side.CLIENT, Phase.CONNECTING, IN_ORDER, CloseReason.PEER_CLOSED, Side.CLIENT));
    for (Side first : new Side[] {Side.CLIENT, Side.UPSTREAM}) {
      for (Phase phase : new Phase[] {Phase.ESTABLISHED, Phase.BACKPRESSURED, Phase.BUDGET_PAUSED, Phase.DRAINING,
        Phase.SPLICED}) {
        cells.add(new Cell(first, phase, IN_ORDER, CloseReason.PEER_CLOSED, first));
      }
      cells.add(new Cell(first, Phase.ESTABLISHED, RESET_AFTER_FIN, CloseReason.PEER_RESET, first));
      cells.add(new Cell(first, Phase.ESTABLISHED, RESET_AFTER_FIN_QUIET, CloseReason.PEER_RESET, first));
      cells.add(new Cell(first, Phase.ESTABLISHED, OTHER_RESETS, CloseReason.PEER_RESET,
        first == Side.CLIENT ? Side.UPSTREAM : Side.CLIENT));
      cells.add(new Cell(first, Phase.ESTABLISHED, SILENT, CloseReason.HALF_CLOSED_TIMEOUT, Side.PROXY));
    }
    cells.add(new Cell(Side.CLIENT, Phase.ESTABLISHED, BOTH_AT_ONCE, CloseReason.PEER_CLOSED, null));
    return cells;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cells")
  void endsInOrderOrForItsReasonAndDeliversEveryByte(Cell cell) throws Exception {
    try (Scenario s = new Scenario(cell)) {
      s.run();
    }
  }

  private static final class Scenario implements AutoCloseable {
    private static final int SMALL_BUFFER = 16 * 1024;

    final Cell cell;
    final byte[] request;
    final byte[] early = Peer.randomBytes(64 * 1024, 3);
    final byte[] answer;
    final List<AutoCloseable> resources = new ArrayList<>();
    FerryHarness ferry;
    Peer client;
    Peer upstream;
    CompletableFuture<Void> stopped;

    Scenario(Cell cell) {
      this.cell = cell;
      int size = switch (cell.phase) {
        case CONNECTING -> 100 * 1024;
        // More than the kernel's socket buffers hold (4 MiB send buffer here): Ferry must queue and pause.
        case BACKPRESSURED, BUDGET_PAUSED, SPLICED -> 8 * 1024 * 1024;
        default -> 256 * 1024;
      };
      this.request = Peer.randomBytes(size, 1);
      this.answer = Peer.randomBytes(size, 2);
    }

    void run() throws Exception {
      start();
      Peer first = cell.first == Side.CLIENT ? client : upstream;
      Peer other = cell.first == Side.CLIENT ? upstream : client;
      boolean busy = cell.phase == Phase.ESTABLISHED || cell.phase == Phase.DRAINING;
      if (busy && cell.ending == IN_ORDER) {
        other.write(early);
      }
      CompletableFuture<Void> sending = cell.phase == Phase.CONNECTING ? CompletableFuture.completedFuture(null)
        : background(() -> {
          first.write(request);
          first.finish();
        });
      switch (cell.ending) {
        case IN_ORDER -> {
          if (cell.phase == Phase.BACKPRESSURED || cell.phase == Phase.BUDGET_PAUSED) {
            // A paused direction whose sink takes nothing sits between the mark that resumes its source and the one
            // that paused it: half the soft limit, or half the listener's 512 KiB share of the budget.
            long resumeMark = cell.phase == Phase.BACKPRESSURED ? SMALL_BUFFER / 2 : 256 * 1024;
            Await.until("Ferry queues toward the silent side and pauses",
              () -> ferry.metrics().bytesQueued() > resumeMark);
          }
          assertThat(other.readToEnd(Duration.ZERO)).as("the first side's bytes, then its FIN")
            .isEqualTo(Digest.of(request));
          sending.get(30, TimeUnit.SECONDS);
          CompletableFuture<Void> answering = background(() -> {
            other.write(answer);
            other.close();
          });
          Digest expected = busy ? Digest.of(concat(early, answer)) : Digest.of(answer);
          assertThat(first.readToEnd(Duration.ZERO)).as("the answer after the FIN").isEqualTo(expected);
          answering.get(30, TimeUnit.SECONDS);
          first.close();
        }
        case BOTH_AT_ONCE -> {
          CompletableFuture<Void> answering = background(() -> {
            other.write(answer);
            other.finish();
          });
          assertThat(other.readToEnd(Duration.ZERO)).isEqualTo(Digest.of(request));
          assertThat(first.readToEnd(Duration.ZERO)).isEqualTo(Digest.of(answer));
          sending.get(30, TimeUnit.SECONDS);
          answering.get(30, TimeUnit.SECONDS);
          first.close();
          other.close();
        }
        case RESET_AFTER_FIN -> {
          assertThat(other.readToEnd(Duration.ZERO)).isEqualTo(Digest.of(request));
          CompletableFuture<Void> flooding = background(() -> {
            for (int i = 0; i < 1024; i++) {
              other.write(answer);
            }
          });
          first.readExactly(answer.length);
          first.reset();
          other.awaitClosedByPeer();
          flooding.handle((v, e) -> null).get(30, TimeUnit.SECONDS);
        }
        case RESET_AFTER_FIN_QUIET -> {
          assertThat(other.readToEnd(Duration.ZERO)).isEqualTo(Digest.of(request));
          first.reset();
          other.awaitClosedByPeer();
        }
        case OTHER_RESETS -> {
          other.reset();
          first.awaitClosedByPeer();
          sending.handle((v, e) -> null).get(30, TimeUnit.SECONDS);
        }
        case SILENT -> {
          assertThat(other.readToEnd(Duration.ZERO)).isEqualTo(Digest.of(request));
          first.awaitClosedByPeer();
        }
      }
      assertOutcome();
    }

    private void start() throws Exception {
      boolean smallUpstream = cell.first == Side.CLIENT && pausedPhase();
      Backend backend = track(new Backend(Backend.HOLD, smallUpstream ? SMALL_BUFFER : 0));
      TestConfig options;
      if (cell.phase == Phase.CONNECTING) {
        Blackhole silent = track(new Blackhole());
        options = FerryHarness.options(silent.address(), backend.address())
          .set("connect.timeout", Duration.ofMillis(300)).set("connect.attempts", 2);
      } else {
        options = FerryHarness.options(backend.address());
      }
      switch (cell.phase) {
        case BACKPRESSURED -> options.set("buffer.soft-limit", SMALL_BUFFER).set("buffer.hard-limit", 4 * SMALL_BUFFER);
        // Two listeners with a 1 MiB budget: each pauses its sources at 512 KiB queued, below the soft limit.
        case BUDGET_PAUSED -> options.set("instances", 2).set("buffer.soft-limit", 1024 * 1024)
          .set("buffer.hard-limit", 8 * 1024 * 1024).set("limits.max-buffered-bytes", 1024 * 1024);
        case SPLICED -> options.set("splice", true);
        case DRAINING -> options.set("shutdown.drain-timeout", Duration.ofSeconds(20));
        default -> { }
      }
      if (cell.ending == SILENT) {
        options.set("close.half-closed-timeout", Duration.ofMillis(400));
      }
      ferry = FerryHarness.start(options);
      client = Peer.connect(ferry.port(), cell.first == Side.UPSTREAM && pausedPhase() ? SMALL_BUFFER : 0);
      if (cell.phase == Phase.CONNECTING) {
        // Sent while the first connect attempt hangs: no upstream exists yet.
        client.write(request);
        client.finish();
      }
      upstream = backend.awaitAccepted(1);
      if (cell.phase == Phase.DRAINING) {
        stopped = ferry.ferry().shutdown().toCompletionStage().toCompletableFuture();
        Await.until("the drain has begun", () -> !ferry.ferry().ready());
      }
    }

    private boolean pausedPhase() {
      return cell.phase == Phase.BACKPRESSURED || cell.phase == Phase.BUDGET_PAUSED;
    }

    private void assertOutcome() throws Exception {
      JsonObject line = cell.side == null
        ? ferry.access().awaitOne(client.localPort())
        : ferry.assertClosedFor(client, cell.reason, cell.side);
      assertThat(line.getString("reason")).isEqualTo(cell.reason.label());
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal()).as("releases").isEqualTo(1);
      assertThat(ferry.access().lines()).as("access-log lines").hasSize(1);
      assertThat(ferry.metrics().preventedTotal()).as("prevented double frees").isBetween(0L, 3L);
      if (cell.ending == IN_ORDER || cell.ending == BOTH_AT_ONCE) {
        boolean busy = cell.ending == IN_ORDER && (cell.phase == Phase.ESTABLISHED || cell.phase == Phase.DRAINING);
        long fromFirst = request.length;
        long toFirst = answer.length + (busy ? early.length : 0);
        long up = cell.first == Side.CLIENT ? fromFirst : toFirst;
        long down = cell.first == Side.CLIENT ? toFirst : fromFirst;
        // A spliced direction is counted in whole chunks: exact to less than one.
        long slack = cell.phase == Phase.SPLICED ? Splicer.CHUNK - 1 : 0;
        assertThat(line.getLong("bytes_upstream")).as("bytes upstream").isBetween(up - slack, up);
        assertThat(line.getLong("bytes_downstream")).as("bytes downstream").isBetween(down - slack, down);
        if (cell.phase == Phase.SPLICED) {
          assertThat(ferry.metrics().spliceStartedTotal(Direction.UPSTREAM)).isEqualTo(1);
          assertThat(ferry.metrics().spliceStartedTotal(Direction.DOWNSTREAM)).isEqualTo(1);
        }
      }
      if (stopped != null) {
        stopped.get(30, TimeUnit.SECONDS);
        assertThat(ferry.ferry().forced()).as("connections forced by shutdown").isZero();
        assertThat(ferry.ferry().drained()).as("connections drained").isEqualTo(1);
      }
    }

    private static byte[] concat(byte[] a, byte[] b) {
      byte[] c = java.util.Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, c, a.length, b.length);
      return c;
    }

    private interface Io {
      void run() throws IOException;
    }

    private static CompletableFuture<Void> background(Io io) {
      return CompletableFuture.runAsync(() -> {
        try {
          io.run();
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      });
    }

    private <T extends AutoCloseable> T track(T resource) {
      resources.add(resource);
      return resource;
    }

    @Override
    public void close() throws Exception {
      if (client != null) {
        client.close();
      }
      if (ferry != null) {
        ferry.close();
      }
      for (AutoCloseable r : resources) {
        r.close();
      }
    }
  }
}
