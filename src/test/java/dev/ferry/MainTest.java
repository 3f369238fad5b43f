package dev.ferry;

import dev.ferry.support.Await;
import dev.ferry.support.Peer;
import dev.ferry.support.Ports;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The command line: exit statuses, nothing listening after a bad config, and a real SIGTERM. */
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
   * A real process and a real SIGTERM, with a client mid-transfer: the transfer completes during the drain, the
   * process prints its summary and exits 0.
   */
  @Test
  void drainsAndExitsZeroOnSigterm() throws Exception {
    Path config = Files.writeString(dir.resolve("run.yaml"),
      "listen:\n  host: 127.0.0.1\n  port: 0\nadmin:\n  host: 127.0.0.1\n  port: 0\necho:\n  port: 0\n"
        + "instances: 1\nshutdown:\n  drain-timeout: 20s\n");
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    Process ferry = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
      "-cp", classpath, "dev.ferry.Main", "--config", config.toString())
      .redirectErrorStream(true).start();
    List<String> output = new CopyOnWriteArrayList<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(ferry.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          output.add(line);
        }
      } catch (IOException ignored) {
        // process ended
      }
    });
    reader.start();
    try {
      Pattern ready = Pattern.compile("Ferry ready: proxy 127\\.0\\.0\\.1:(\\d+) ");
      int[] port = new int[1];
      Await.until("the process reports ready", () -> output.stream().anyMatch(l -> {
        Matcher m = ready.matcher(l);
        if (m.find()) {
          port[0] = Integer.parseInt(m.group(1));
          return true;
        }
        return false;
      }));
      Peer client = Peer.connect(port[0]);
      client.write("first half ");
      assertThat(client.readExactlyText(11)).isEqualTo("first half ");

      // A real SIGTERM, as Kubernetes sends it (Process.destroy() did not reach the JVM's handler here).
      assertThat(new ProcessBuilder("kill", "-TERM", String.valueOf(ferry.pid())).start().waitFor()).isZero();
      try {
        Await.until("the drain starts", () -> output.stream().anyMatch(l -> l.contains("shutting down: draining")));
      } catch (AssertionError e) {
        throw new AssertionError(e.getMessage() + "; process output:\n" + String.join("\n", output), e);
      }
      client.write("second half");
      assertThat(client.readExactlyText(11)).isEqualTo("second half");
      client.close();

      assertThat(ferry.waitFor(30, TimeUnit.SECONDS)).as("process exited").isTrue();
      reader.join(5000);
      assertThat(ferry.exitValue()).as("exit status; output:\n" + String.join("\n", output)).isZero();
      assertThat(output).anyMatch(l -> l.contains("\"reason\":\"PEER_CLOSED\""));
      assertThat(output).anyMatch(l -> l.contains("Ferry stopped: drained 1, forced 0; connections open 0, buffers held 0"));
    } finally {
      ferry.destroyForcibly();
    }
  }
}
