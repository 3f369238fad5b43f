package dev.ferry;

import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** SIGTERM semantics, in-process: readiness off, no new clients, open ones drain, the rest are closed. */
class ShutdownTest {

  @Test
  void drainsATransferInFlightBeforeStopping() throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("shutdown.drain-timeout", Duration.ofSeconds(20)))) {
      Peer client = ferry.connect();
      client.write("before");
      assertThat(client.readExactlyText(6)).isEqualTo("before");
      int port = ferry.port();

      var stopped = ferry.ferry().shutdown().toCompletionStage().toCompletableFuture();
      Await.until("readiness turns false", () -> {
        try {
          return ferry.admin("GET", "/health/ready").statusCode() == 503;
        } catch (IOException | InterruptedException e) {
          return false;
        }
      });
      assertThatThrownBy(() -> Peer.connect(port)).as("new clients while draining").isInstanceOf(ConnectException.class);

      client.write("during the drain");
      assertThat(client.readExactlyText(16)).isEqualTo("during the drain");
      assertThat(stopped).isNotDone();
      client.close();

      stopped.get(30, TimeUnit.SECONDS);
      ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
      ferry.assertReleasedCleanly();
      assertThat(ferry.ferry().drained()).isEqualTo(1);
      assertThat(ferry.ferry().forced()).isZero();
    }
  }

  @Test
  void closesWhatIsLeftWithReasonShutdownWhenTheDrainTimeoutExpires() throws Exception {
    try (Backend backend = new Backend(Backend.HOLD);
         FerryHarness ferry = FerryHarness.start(FerryHarness.options(backend.address())
           .set("shutdown.drain-timeout", Duration.ofMillis(300)))) {
      Peer client = ferry.connect();
      client.write("idle forever");
      Peer upstream = backend.awaitAccepted(1);
      upstream.readExactly(12);

      ferry.shutdown();
      client.awaitClosedByPeer();
      upstream.awaitClosedByPeer();
      ferry.assertClosedFor(client, CloseReason.SHUTDOWN, Side.PROXY);
      ferry.assertReleasedCleanly();
      assertThat(ferry.ferry().forced()).isEqualTo(1);
      assertThat(ferry.ferry().drained()).isZero();
    }
  }
}
