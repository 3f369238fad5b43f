package dev.ferry.proxy;

import dev.ferry.config.FerryOptions;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.Blackhole;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.TestConfig;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.ferry.proxy.FaultMatrixTest.Fault.ADMIN_KILL;
import static dev.ferry.proxy.FaultMatrixTest.Fault.CONNECT_REFUSED;
import static dev.ferry.proxy.FaultMatrixTest.Fault.CONNECT_TIMEOUT;
import static dev.ferry.proxy.FaultMatrixTest.Fault.IDLE;
import static dev.ferry.proxy.FaultMatrixTest.Fault.OVERFLOW;
import static dev.ferry.proxy.FaultMatrixTest.Fault.RST;
import static dev.ferry.proxy.FaultMatrixTest.Fault.SHUTDOWN;
import static dev.ferry.proxy.FaultMatrixTest.Fault.WRITE_FAILURE;
import static dev.ferry.proxy.FaultMatrixTest.Phase.CONNECTING;
import static dev.ferry.proxy.FaultMatrixTest.Phase.DRAINING;
import static dev.ferry.proxy.FaultMatrixTest.Phase.ESTABLISHED;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every fault Ferry knows, on every side where it means something, in every phase of a connection: each cell is a
 * real TCP scenario on loopback with a fresh Ferry, and each asserts the same things. The recorded reason and side,
 * that both sockets closed as seen from the test's own peers, exactly one release (one access-log line, one close
 * counted), every gauge back to 0, no leak and no detected double free, and the prevented double frees the cell
 * expects.
 * <p>
 * Prevented counts are exact where the order of events is fixed, and a range where two reports of one failure race
 * the release order across event loops. For example, a reset is seen by a read or a write, then the close event
 * follows in a later loop turn.
 * <p>
 * A FIN is not a fault: it ends one direction, and {@link HalfCloseMatrixTest} has its cells in every phase. What
 * comes before the bytes (PROXY protocol headers, ClientHellos, TLS handshakes, TLS mid-stream) has its cells, garbage
 * input among them, in {@link PreambleMatrixTest}.
 */
class FaultMatrixTest {

  enum Fault { RST, WRITE_FAILURE, CONNECT_REFUSED, CONNECT_TIMEOUT, IDLE, OVERFLOW, ADMIN_KILL, SHUTDOWN }

  /** Where the connection is when the fault strikes. */
  enum Phase {
    /** The upstream is not connected yet; the client has already sent bytes. */
    CONNECTING,
    /** Bytes are moving both ways. */
    ESTABLISHED,
    /** Ferry is shutting down and waits for the connection to finish. */
    DRAINING
  }

  record Cell(Fault fault, Side at, Phase phase, CloseReason reason, Side side, int minPrevented, int maxPrevented) {
    @Override
    public String toString() {
      return fault + " at " + at.label() + " while " + phase + " -> " + reason + "/" + side.label();
    }
  }

  static List<Cell> cells() {
    List<Cell> cells = new ArrayList<>();
    // CONNECTING: no upstream socket yet.
    cells.add(new Cell(RST, Side.CLIENT, CONNECTING, CloseReason.PEER_RESET, Side.CLIENT, 0, 1));
    cells.add(new Cell(CONNECT_REFUSED, Side.UPSTREAM, CONNECTING, CloseReason.CONNECT_FAILED, Side.UPSTREAM, 0, 0));
    cells.add(new Cell(CONNECT_TIMEOUT, Side.UPSTREAM, CONNECTING, CloseReason.CONNECT_TIMEOUT, Side.UPSTREAM, 0, 0));
    cells.add(new Cell(ADMIN_KILL, Side.PROXY, CONNECTING, CloseReason.ADMIN_KILL, Side.PROXY, 0, 0));
    cells.add(new Cell(SHUTDOWN, Side.PROXY, CONNECTING, CloseReason.SHUTDOWN, Side.PROXY, 0, 0));
    // ESTABLISHED and DRAINING: mid-transfer.
    for (Phase phase : new Phase[] {ESTABLISHED, DRAINING}) {
      for (Side at : new Side[] {Side.CLIENT, Side.UPSTREAM}) {
        cells.add(new Cell(RST, at, phase, CloseReason.PEER_RESET, at, 0, 2));
        cells.add(new Cell(WRITE_FAILURE, at, phase, CloseReason.PEER_RESET, at, 0, 2));
      }
      cells.add(new Cell(IDLE, Side.PROXY, phase, CloseReason.IDLE_TIMEOUT, Side.PROXY, 0, 0));
      cells.add(new Cell(ADMIN_KILL, Side.PROXY, phase, CloseReason.ADMIN_KILL, Side.PROXY, 0, 0));
    }
    cells.add(new Cell(OVERFLOW, Side.UPSTREAM, ESTABLISHED, CloseReason.OVERFLOW, Side.UPSTREAM, 0, 0));
    cells.add(new Cell(SHUTDOWN, Side.PROXY, DRAINING, CloseReason.SHUTDOWN, Side.PROXY, 0, 0));
    return cells;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cells")
  void endsOnceAndReleasesEverything(Cell cell) throws Exception {
    try (Scenario s = new Scenario(cell)) {
      s.reach();
      s.inject();
      s.assertOutcome();
    }
  }

  /** One cell's peers, Ferry and steps. */
  private static final class Scenario implements AutoCloseable {
    private static final byte[] FILLER = filler(64 * 1024);
    private static final byte[] FLOOD = filler(256 * 1024);

    final Cell cell;
    final List<AutoCloseable> resources = new ArrayList<>();
    final List<CompletableFuture<Void>> background = new ArrayList<>();
    FerryHarness ferry;
    Backend backend;
    Peer client;
    Peer upstream;
    CompletableFuture<Void> stopped;
    boolean clientGone;
    boolean upstreamGone;

    Scenario(Cell cell) {
      this.cell = cell;
    }

    void reach() throws Exception {
      TestConfig options;
      if (cell.phase == CONNECTING) {
        options = connectingOptions();
      } else {
        backend = track(new Backend(Backend.HOLD));
        options = FerryHarness.options(backend.address());
      }
      options.set("shutdown.drain-timeout", cell.fault == SHUTDOWN ? Duration.ofMillis(300) : Duration.ofSeconds(20));
      if (cell.fault == IDLE) {
        options.set("idle-timeout", Duration.ofMillis(300));
      }
      if (cell.fault == OVERFLOW) {
        options.set("buffer.soft-limit", 1024).set("buffer.hard-limit", 2048);
      }
      ferry = FerryHarness.start(options);
      client = ferry.connect();
      client.write("bytes sent before the upstream exists");
      if (cell.phase == CONNECTING) {
        // A refused connect can end the connection before a poll would see it open: wait for the accept instead.
        Await.until("the connection is accepted", () -> ferry.metrics().openedTotal() == 1);
        return;
      }
      upstream = backend.awaitAccepted(1);
      upstream.readExactly(37);
      upstream.write("pong");
      assertThat(client.readExactlyText(4)).isEqualTo("pong");
      if (cell.fault != WRITE_FAILURE && cell.fault != OVERFLOW) {
        // Mid-transfer: bytes in flight both ways.
        client.write(FILLER);
        upstream.write(FILLER);
      }
      if (cell.phase == DRAINING) {
        stopped = ferry.ferry().shutdown().toCompletionStage().toCompletableFuture();
        Await.until("the drain has begun", () -> !ferry.ferry().ready());
      }
    }

    private TestConfig connectingOptions() throws IOException {
      if (cell.fault == CONNECT_REFUSED) {
        return FerryHarness.options(Backend.refusingAddress(), Backend.refusingAddress()).set("connect.attempts", 2);
      }
      Blackhole silent = track(new Blackhole());
      Duration timeout = cell.fault == CONNECT_TIMEOUT ? Duration.ofMillis(300) : Duration.ofSeconds(5);
      return FerryHarness.options(silent.address()).set("connect.timeout", timeout).set("connect.attempts", 1)
        .set("close.flush-timeout", Duration.ofSeconds(2)).set("registry.release-timeout", Duration.ofSeconds(15));
    }

    void inject() throws Exception {
      Peer atPeer = cell.at == Side.CLIENT ? client : upstream;
      switch (cell.fault) {
        case RST -> {
          atPeer.reset();
          gone(cell.at);
        }
        case WRITE_FAILURE -> {
          // The other peer floods the one that stops reading; once Ferry queues toward it, it resets.
          Peer sender = cell.at == Side.CLIENT ? upstream : client;
          background.add(flood(sender));
          Await.until("Ferry queues toward the " + cell.at.label(), () -> ferry.metrics().bytesQueued() > 0);
          atPeer.reset();
          gone(cell.at);
        }
        case OVERFLOW -> background.add(flood(client));
        case ADMIN_KILL -> {
          long id = new JsonObject(ferry.admin("GET", "/connections").body())
            .getJsonArray("connections").getJsonObject(0).getLong("id");
          assertThat(ferry.admin("DELETE", "/connections/" + id).statusCode()).isEqualTo(202);
        }
        case SHUTDOWN -> {
          if (stopped == null) {
            stopped = ferry.ferry().shutdown().toCompletionStage().toCompletableFuture();
          }
        }
        case CONNECT_REFUSED, CONNECT_TIMEOUT, IDLE -> {
          // Ferry produces these itself.
        }
      }
    }

    private void gone(Side side) {
      if (side == Side.CLIENT) {
        clientGone = true;
      } else {
        upstreamGone = true;
      }
    }

    void assertOutcome() throws Exception {
      if (!clientGone) {
        client.awaitClosedByPeer();
      }
      if (upstream != null && !upstreamGone) {
        upstream.awaitClosedByPeer();
      }
      for (CompletableFuture<Void> f : background) {
        f.get(30, TimeUnit.SECONDS);
      }
      ferry.assertClosedFor(client, cell.reason, cell.side);
      ferry.assertReleasedCleanly();
      assertThat(ferry.metrics().closedTotal()).as("releases").isEqualTo(1);
      assertThat(ferry.access().lines()).as("access-log lines").hasSize(1);
      assertThat(ferry.metrics().preventedTotal()).as("prevented double frees")
        .isBetween((long) cell.minPrevented, (long) cell.maxPrevented);
      if (stopped != null) {
        stopped.get(30, TimeUnit.SECONDS);
        assertThat(ferry.ferry().forced()).as("connections forced by shutdown")
          .isEqualTo(cell.fault == SHUTDOWN ? 1 : 0);
      }
    }

    private static CompletableFuture<Void> flood(Peer sender) {
      return CompletableFuture.runAsync(() -> {
        try {
          for (int i = 0; i < 256; i++) {
            sender.write(FLOOD);
          }
        } catch (IOException expected) {
          // the connection ends under it
        }
      });
    }

    private <T extends AutoCloseable> T track(T resource) {
      resources.add(resource);
      return resource;
    }

    private static byte[] filler(int n) {
      byte[] b = new byte[n];
      Arrays.fill(b, (byte) 'f');
      return b;
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
