package dev.ferry.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real HAProxy (Debian package {@code haproxy}) in the foreground, on 127.0.0.1: the reference on the wire. It is
 * configured with the text of its proxy sections; {@code global} and {@code defaults} (mode tcp, timeouts) are fixed
 * here. Its output goes to {@code haproxy.log} in the given directory.
 */
public final class Haproxy implements AutoCloseable {

  private final Process process;
  private final int port;
  private final Path log;

  private Haproxy(Process process, int port, Path log) {
    this.process = process;
    this.port = port;
    this.log = log;
  }

  /** Plain {@code mode tcp} from a listening port to {@code upstreamPort}, HAProxy's defaults otherwise. */
  public static Haproxy tcp(Path dir, int upstreamPort) throws IOException {
    return start(dir, (port) -> "listen proxy\n  bind 127.0.0.1:" + port + "\n  server upstream 127.0.0.1:"
      + upstreamPort + "\n");
  }

  /** Sections given the port HAProxy listens on; they must bind it on 127.0.0.1. */
  public interface Sections {
    String forPort(int port);
  }

  public static Haproxy start(Path dir, Sections sections) throws IOException {
    Path binary = Executables.require("haproxy", "haproxy");
    int port = Ports.freeLoopbackPort();
    Path cfg = dir.resolve("haproxy.cfg");
    Files.writeString(cfg, String.join("\n",
      "global",
      "  maxconn 1000",
      // A section that says "log global" logs to haproxy.log (its stdout), as its own log-format says.
      "  log stdout format raw local0",
      "defaults",
      "  mode tcp",
      "  timeout connect 5s",
      "  timeout client 30s",
      "  timeout server 30s",
      "") + sections.forPort(port));
    Path log = dir.resolve("haproxy.log");
    Process p = new ProcessBuilder(List.of(binary.toString(), "-db", "-f", cfg.toString()))
      .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    Haproxy haproxy = new Haproxy(p, port, log);
    try {
      Await.until("haproxy listens on " + port, Duration.ofSeconds(10), haproxy::listening);
    } catch (AssertionError e) {
      haproxy.close();
      throw new AssertionError(e.getMessage() + "; haproxy.log: " + Files.readString(log), e);
    }
    return haproxy;
  }

  /** Whether the kernel lists a listening socket on the port (a test connect would reach the backend). */
  private boolean listening() {
    if (!process.isAlive()) {
      throw new AssertionError("haproxy exited with " + process.exitValue());
    }
    String local = String.format("0100007F:%04X", port);
    try {
      // /proc/net/tcp: "sl local_address rem_address st ..."; 0100007F is 127.0.0.1, st 0A is LISTEN.
      return Files.readAllLines(Path.of("/proc/net/tcp")).stream()
        .map(l -> l.trim().split("\\s+"))
        .anyMatch(f -> f.length > 3 && f[1].equals(local) && f[3].equals("0A"));
    } catch (IOException e) {
      return false;
    }
  }

  public int port() {
    return port;
  }

  public String log() throws IOException {
    return Files.readString(log);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(5, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
