package dev.ferry;

import dev.ferry.support.Await;
import dev.ferry.support.Launcher;
import dev.ferry.support.Peer;
import dev.ferry.support.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The command line: exit statuses, nothing listening after a bad config, and bin/ferry with a real SIGTERM. */
class MainTest {

  @TempDir
  Path dir;

  @Test
  void exitsWithStatus2AndListensNowhereWhenTheConfigIsInvalid() throws Exception {
    int port = Ports.freeLoopbackPort();
    Path config = Files.writeString(dir.resolve("bad.yaml"),
      "listen:\n  host: 127.0.0.1\n  port: " + port + "\nadmin:\n  port: 0\nconect:\n  timeout: 5s\n");
    Ferry[] running = new Ferry[1];

    assertThat(Main.start(new String[] {"--config", config.toString()}, Map.of(), running)).isEqualTo(2);
    assertThat(running[0]).isNull();
    assertThatThrownBy(() -> Peer.connect(port)).isInstanceOf(ConnectException.class);
  }

  @Test
  void exitsWithStatus1AtOnceWhenTheProxyPortIsTaken() throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Path config = Files.writeString(dir.resolve("taken.yaml"), "listen:\n  host: 127.0.0.1\n  port: "
        + taken.getLocalPort() + "\nadmin:\n  host: 127.0.0.1\n  port: 0\necho:\n  port: 0\ninstances: 1\n");
      long start = System.nanoTime();
      assertThat(Main.start(new String[] {"--config", config.toString()}, Map.of(), new Ferry[1])).isEqualTo(1);
      assertThat(java.time.Duration.ofNanos(System.nanoTime() - start)).isLessThan(java.time.Duration.ofSeconds(20));
    }
  }

  @Test
  void exitsWithStatus2OnAnUnknownArgument() {
    assertThat(Main.start(new String[] {"--confg", "x"}, Map.of(), new Ferry[1])).isEqualTo(2);
  }

  @Test
  void exitsWithStatus2WhenAnEnvOverrideIsInvalid() {
    assertThat(Main.start(new String[0], Map.of("FERRY_LISTEN_PORT", "seven thousand"), new Ferry[1])).isEqualTo(2);
  }

  @Test
  void readsTheConfigNamedByFerryConfig() throws Exception {
    Path config = Files.writeString(dir.resolve("ok.yaml"),
      "listen:\n  host: 127.0.0.1\n  port: 0\nadmin:\n  host: 127.0.0.1\n  port: 0\necho:\n  port: 0\ninstances: 1\n");
    Ferry[] running = new Ferry[1];
    assertThat(Main.start(new String[0], Map.of("FERRY_CONFIG", config.toString()), running)).isZero();
    try {
      assertThat(running[0].options().instances()).isEqualTo(1);
      Peer client = Peer.connect(running[0].proxyPort());
      client.write("env");
      assertThat(client.readExactlyText(3)).isEqualTo("env");
      client.close();
    } finally {
      running[0].shutdown().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  /**
   * The README's command, bin/ferry, as a real process with a real SIGTERM and a client mid-transfer: the JVM runs
   * with the launcher's defaults (its start-up line says so), the transfer completes during the drain, the process
   * prints its summary and exits 0. The jar is a pathing jar onto this build's classes (tests run before packaging).
   */
  @Test
  void theReadmesLauncherStartsItWithTheMeasuredJvmSettingsAndItDrainsAndExitsZeroOnSigterm() throws Exception {
    Path config = Files.writeString(dir.resolve("run.yaml"),
      "listen:\n  host: 127.0.0.1\n  port: 0\nadmin:\n  host: 127.0.0.1\n  port: 0\necho:\n  port: 0\n"
        + "instances: 1\nshutdown:\n  drain-timeout: 20s\n");
    Path jar = Launcher.pathingJar(dir);
    try (Launcher ferry = Launcher.start(Launcher.SCRIPT, dir, Map.of("JAVA_HOME", Launcher.javaHome(),
      "FERRY_JAR", jar.toString()), "--config", config.toString())) {
      Matcher ready = ferry.awaitLine("the process reports ready",
        Pattern.compile("Ferry ready: proxy 127\\.0\\.0\\.1:(\\d+) "), Duration.ofSeconds(60));
      assertThat(ferry.output()).as("the start-up line of the JVM settings in effect").anyMatch(l -> l.contains(
        "conn=- JVM: ") && l.contains(", collector Serial (Copy, MarkSweepCompact), heap initial 256 MiB, max 256 MiB, "
        + "direct memory max 128 MiB, ") && l.endsWith(" command line: -XX:+UseSerialGC -Xms256m -Xmx256m "
        + "-XX:MaxDirectMemorySize=128m -XX:+ExitOnOutOfMemoryError"));
      Peer client = Peer.connect(Integer.parseInt(ready.group(1)));
      client.write("first half ");
      assertThat(client.readExactlyText(11)).isEqualTo("first half ");

      // A real SIGTERM, as Kubernetes sends it, to the PID bin/ferry was started as: the JVM, by exec.
      assertThat(new ProcessBuilder("kill", "-TERM", String.valueOf(ferry.pid())).start().waitFor()).isZero();
      ferry.awaitLine("the drain starts", Pattern.compile("shutting down: draining"), Await.DEFAULT);
      client.write("second half");
      assertThat(client.readExactlyText(11)).isEqualTo("second half");
      client.close();

      assertThat(ferry.waitFor(Duration.ofSeconds(30))).as("exit status; output:\n" + String.join("\n", ferry.output()))
        .isZero();
      assertThat(ferry.output()).anyMatch(l -> l.contains("\"reason\":\"PEER_CLOSED\""));
      assertThat(ferry.output())
        .anyMatch(l -> l.contains("Ferry stopped: drained 1, forced 0; connections open 0, buffers held 0"));
    }
  }
}
