package dev.ferry.k8s;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.ferry.Ferry;
import dev.ferry.config.ConfigWatcher;
import dev.ferry.config.UpstreamAddress;
import dev.ferry.support.Await;
import dev.ferry.support.Backend;
import dev.ferry.support.FerryHarness;
import dev.ferry.support.Peer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Upstream reload: Ferry started from a file follows a new upstream list for new connections, leaves open ones on
 * their upstream, and keeps serving through an invalid file, as a ConfigMap edit would play out in a pod.
 */
class ConfigReloadTest {

  private static final Duration SCAN = Duration.ofMillis(200);

  @Test
  void newUpstreamsApplyToNewConnectionsWithoutDroppingOpenOnesAndAnInvalidFileIsIgnored(@TempDir Path dir)
      throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    Logger watcherLog = (Logger) LoggerFactory.getLogger(ConfigWatcher.class);
    logs.start();
    watcherLog.addAppender(logs);
    Path file = dir.resolve("ferry.yaml");
    try (Backend a = new Backend(ConfigReloadTest::echo); Backend b = new Backend(ConfigReloadTest::echo)) {
      write(file, config(a.address()));
      try (FerryHarness h = FerryHarness.startFromFile(file.toString(), SCAN)) {
        Ferry ferry = h.ferry();
        Peer old = h.connect();
        exchange(old, "before reload");
        assertThat(a.accepted()).hasSize(1);

        write(file, config(b.address()));
        Await.until("Ferry proxies new connections to B", () -> upstreams(ferry).equals(List.of(b.address())));
        try (Peer fresh = h.connect()) {
          exchange(fresh, "after reload");
          b.awaitAccepted(1);
          fresh.close();
          h.access().awaitOne(fresh.localPort());
        }
        assertThat(a.accepted()).as("connections A accepted").hasSize(1);
        // The connection opened before the reload still relays both ways, through A, and was never closed.
        exchange(old, "still through A");
        assertThat(h.access().forClientPort(old.localPort())).as("access-log lines of the old connection").isEmpty();
        Await.equal("open connections", 1L, () -> h.metrics().connectionsOpen());

        write(file, "listen:\n  port: 70000\n");
        Await.until("the invalid file is rejected", () -> logs.list.stream()
          .anyMatch(e -> e.getFormattedMessage().equals("conn=- config reload rejected: listen.port: must be between 0 and 65535, got 70000")));
        write(file, "upstreams: [unclosed\n");
        Await.until("the unparsable file is rejected", () -> logs.list.stream()
          .anyMatch(e -> e.getFormattedMessage().startsWith("conn=- config reload rejected: config: ")));
        assertThat(upstreams(ferry)).containsExactly(b.address());
        try (Peer afterBad = h.connect()) {
          exchange(afterBad, "still serving with B");
          afterBad.close();
          h.access().awaitOne(afterBad.localPort());
        }
        assertThat(b.accepted()).hasSize(2);
        exchange(old, "old one too");

        old.close();
        h.access().awaitOne(old.localPort());
        h.assertReleasedCleanly();
      }
    } finally {
      watcherLog.detachAppender(logs);
    }
  }

  @Test
  void aChangeToAnotherKeyIsLoggedAsNeedingARestartAndNotApplied(@TempDir Path dir) throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    Logger watcherLog = (Logger) LoggerFactory.getLogger(ConfigWatcher.class);
    logs.start();
    watcherLog.addAppender(logs);
    Path file = dir.resolve("ferry.yaml");
    try (Backend a = new Backend(ConfigReloadTest::echo)) {
      write(file, config(a.address()));
      try (FerryHarness h = FerryHarness.startFromFile(file.toString(), SCAN)) {
        Ferry ferry = h.ferry();
        write(file, config(a.address()) + "idle-timeout: 1m\n");
        Await.until("the restart-only change is logged", () -> logs.list.stream().anyMatch(e ->
          e.getFormattedMessage().equals("conn=- config reload: idle-timeout changed: needs restart, ignored")));
        assertThat(ferry.options().routes().get(0).idleTimeout()).isEqualTo(Duration.ofMinutes(5));
        assertThat(upstreams(ferry)).containsExactly(a.address());
        try (Peer c = h.connect()) {
          exchange(c, "unchanged");
        }
        h.assertReleasedCleanly();
      }
    } finally {
      watcherLog.detachAppender(logs);
    }
  }

  /** Echoes every byte until the peer closes. */
  private static void echo(Peer peer) throws IOException {
    var in = peer.socket().getInputStream();
    var out = peer.socket().getOutputStream();
    byte[] buf = new byte[8192];
    try {
      for (int n; (n = in.read(buf)) >= 0; ) {
        out.write(buf, 0, n);
        out.flush();
      }
    } catch (java.net.SocketException closed) {
      // closed by Ferry or by the test's cleanup
    } finally {
      peer.close();
    }
  }

  /** The test's config: loopback, ephemeral ports, one listener, short timeouts. */
  @Test
  void reloadingOneRoutesPoolKeepsItsOpenConnectionsAndLeavesTheOtherRouteAlone(@TempDir Path dir) throws Exception {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    Logger watcherLog = (Logger) LoggerFactory.getLogger(ConfigWatcher.class);
    logs.start();
    watcherLog.addAppender(logs);
    Path file = dir.resolve("ferry.yaml");
    try (Backend a = new Backend(ConfigReloadTest::echo); Backend b = new Backend(ConfigReloadTest::echo);
         Backend c = new Backend(ConfigReloadTest::echo)) {
      write(file, routes(a.address(), "[\"" + b.address() + "\"]", "round-robin"));
      try (FerryHarness h = FerryHarness.startFromFile(file.toString(), SCAN)) {
        Ferry ferry = h.ferry();
        Peer onWeb = Peer.connect(ferry.proxyPort("web"));
        exchange(onWeb, "before");
        Peer onDb = Peer.connect(ferry.proxyPort("db"));
        exchange(onDb, "before");

        // db: another upstream with a weight, another balancing; web's file text is unchanged.
        write(file, routes(a.address(), "[{address: \"" + c.address() + "\", weight: 3}]", "least-connections"));
        Await.until("db's pool is reloaded", () -> logs.list.stream().anyMatch(e -> e.getFormattedMessage().equals(
          "conn=- config reload: routes[db].upstreams [" + b.address() + "] -> [" + c.address() + "]")));
        assertThat(ferry.options().route("db")).isNotNull();
        var db = ferry.routes().stream().filter(r -> r.name().equals("db")).findFirst().orElseThrow();
        assertThat(db.pool().options().balance().configValue()).isEqualTo("least-connections");
        assertThat(db.pool().options().upstreams().get(0).weight()).isEqualTo(3);
        try (Peer fresh = Peer.connect(ferry.proxyPort("db"))) {
          exchange(fresh, "after");
          c.awaitAccepted(1);
        }
        // The connections opened before the reload still relay, through their upstreams, never closed.
        exchange(onDb, "still through b");
        exchange(onWeb, "web untouched");
        assertThat(b.accepted()).hasSize(1);
        assertThat(h.access().forClientPort(onDb.localPort())).isEmpty();
        assertThat(logs.list).noneMatch(e -> e.getFormattedMessage().contains("needs restart"));

        onWeb.close();
        onDb.close();
        h.access().awaitOne(onWeb.localPort());
        h.access().awaitOne(onDb.localPort());
        Await.until("every connection released", () -> h.metrics().connectionsOpen() == 0);
        h.assertReleasedCleanly();
      }
    } finally {
      watcherLog.detachAppender(logs);
    }
  }

  private static String routes(UpstreamAddress web, String dbUpstreams, String dbBalance) {
    return """
      admin: {host: 127.0.0.1, port: 0}
      instances: 1
      connect: {timeout: 2s}
      close: {flush-timeout: 2s}
      registry: {release-timeout: 10s, watchdog-interval: 200ms}
      shutdown: {drain-timeout: 2s}
      echo: {enabled: false}
      routes:
        - name: web
          listen: {host: 127.0.0.1, port: 0}
          upstreams: ["%s"]
        - name: db
          listen: {host: 127.0.0.1, port: 0}
          upstreams: %s
          balance: %s
      """.formatted(web, dbUpstreams, dbBalance);
  }

  private static String config(UpstreamAddress upstream) {
    return """
      listen: {host: 127.0.0.1, port: 0}
      admin: {host: 127.0.0.1, port: 0}
      instances: 1
      upstreams: ["%s"]
      connect: {timeout: 2s}
      close: {flush-timeout: 2s}
      registry: {release-timeout: 10s, watchdog-interval: 200ms}
      shutdown: {drain-timeout: 2s}
      echo: {enabled: false}
      """.formatted(upstream);
  }

  /** Replaces the file atomically, as kubelet swaps a ConfigMap volume's files. */
  private static void write(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  private static void exchange(Peer client, String text) throws IOException {
    client.write(text);
    assertThat(client.readExactlyText(text.length())).isEqualTo(text);
  }

  /** The default route's current upstreams, in order. */
  private static List<dev.ferry.config.UpstreamAddress> upstreams(Ferry ferry) {
    return ferry.routes().get(0).pool().options().upstreams().stream().map(dev.ferry.config.WeightedUpstream::address)
      .toList();
  }
}
