package dev.ferry.proxy;

import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class EchoTest {

  static FerryHarness ferry;

  @BeforeAll
  static void start() {
    ferry = FerryHarness.start(FerryHarness.options());
  }

  @AfterAll
  static void stop() {
    ferry.close();
  }

  @Test
  void usesNativeEpollOnLinux() {
    assertThat(System.getProperty("os.name")).startsWith("Linux");
    assertThat(ferry.ferry().nativeTransport()).as("native epoll transport in use").isTrue();
  }

  @Test
  void startsAnEmbeddedEchoUpstreamWhenNoneIsConfigured() {
    assertThat(ferry.ferry().echoPort()).isPositive();
    assertThat(ferry.ferry().routes()).singleElement().satisfies(r -> {
      assertThat(r.echo()).isTrue();
      assertThat(r.pool().options().upstreams()).singleElement()
        .satisfies(u -> assertThat(u.address().port()).isEqualTo(ferry.ferry().echoPort()));
    });
  }

  @Test
  void echoesThroughTheFullProxyPathAndReleasesOnClientClose() throws Exception {
    Peer client = ferry.connect();
    client.write("hello ferry\n");
    assertThat(client.readExactlyText(12)).isEqualTo("hello ferry\n");
    client.write("again\n");
    assertThat(client.readExactlyText(6)).isEqualTo("again\n");
    client.close();

    JsonObject line = ferry.assertClosedFor(client, CloseReason.PEER_CLOSED, Side.CLIENT);
    assertThat(line.getLong("bytes_upstream")).isEqualTo(18);
    assertThat(line.getLong("bytes_downstream")).isEqualTo(18);
    assertThat(line.getString("upstream")).isEqualTo("127.0.0.1:" + ferry.ferry().echoPort());
    assertThat(line.getDouble("duration_ms")).isPositive();
    assertThat(line.getDouble("connect_ms")).isNotNull();
    ferry.assertReleasedCleanly();
  }
}
