package dev.ferry.proxy;

import dev.ferry.config.TransportMode;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import dev.ferry.vocabulary.CloseReason;
import dev.ferry.vocabulary.Side;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Several listener instances each bind their own socket on one port ({@code SO_REUSEPORT}; with port 0 the first
 * listener's ephemeral port): on both transports all of them bind (a second plain bind of a taken port would fail
 * the start), and every client is served and released on whichever listener the kernel picked.
 */
class ListenerSharingTest {

  @ParameterizedTest
  @EnumSource(value = TransportMode.class, names = {"EPOLL", "NIO"})
  void servesEveryClientWhenThreeListenersShareOneEphemeralPort(TransportMode transport) throws Exception {
    try (FerryHarness ferry = FerryHarness.start(FerryHarness.options().set("transport", transport).set("instances", 3))) {
      assertThat(ferry.ferry().nativeTransport()).isEqualTo(transport == TransportMode.EPOLL);
      List<Peer> clients = new ArrayList<>();
      for (int i = 0; i < 24; i++) {
        Peer c = ferry.connect();
        c.write("client " + i + "\n");
        clients.add(c);
      }
      for (int i = 0; i < clients.size(); i++) {
        String expected = "client " + i + "\n";
        assertThat(clients.get(i).readExactlyText(expected.length())).isEqualTo(expected);
      }
      for (Peer c : clients) {
        c.close();
      }
      for (Peer c : clients) {
        ferry.assertClosedFor(c, CloseReason.PEER_CLOSED, Side.CLIENT);
      }
      assertThat(ferry.metrics().openedTotal()).isEqualTo(clients.size());
      ferry.assertReleasedCleanly();
    }
  }
}
