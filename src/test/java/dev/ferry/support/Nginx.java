package dev.ferry.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A real nginx (Debian packages {@code nginx} and {@code libnginx-mod-stream}) in the foreground, on 127.0.0.1, with
 * the stream module: configured with the text of its {@code stream} block, given the port it listens on. Its error
 * log and whatever the block logs go to files in the given directory.
 */
public final class Nginx implements AutoCloseable {

  private static final String STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";

  private final Process process;
  private final int port;
  private final Path dir;

  private Nginx(Process process, int port, Path dir) {
    this.process = process;
    this.port = port;
    this.dir = dir;
  }

  /** The body of the {@code stream} block, given the port nginx listens on (it must bind 127.0.0.1 there). */
  public interface Stream {
    String forPort(int port);
  }

  public static Nginx start(Path dir, Stream stream) throws IOException {
    Path binary = Executables.require("nginx", "nginx");
    if (!Files.exists(Path.of(STREAM_MODULE))) {
      Executables.require("missing-" + Path.of(STREAM_MODULE).getFileName(), "libnginx-mod-stream");
    }
    int port = Ports.freeLoopbackPort();
    Path conf = dir.resolve("nginx.conf");
    Files.writeString(conf, String.join("\n",
      "load_module " + STREAM_MODULE + ";",
      "daemon off;",
      "master_process off;",
      "pid " + dir.resolve("nginx.pid") + ";",
      "error_log " + dir.resolve("error.log") + " info;",
      "events { worker_connections 256; }",
      "stream {",
      stream.forPort(port),
      "}", ""));
    Process p = new ProcessBuilder(List.of(binary.toString(), "-p", dir.toString(), "-c", conf.toString()))
      .redirectErrorStream(true).redirectOutput(dir.resolve("nginx.out").toFile()).start();
    Nginx nginx = new Nginx(p, port, dir);
    try {
      Await.until("nginx listens on " + port, Duration.ofSeconds(10), () -> Listening.on(port, p));
    } catch (AssertionError e) {
      nginx.close();
      throw new AssertionError(e.getMessage() + "; error.log: " + nginx.file("error.log"), e);
    }
    return nginx;
  }

  public int port() {
    return port;
  }

  /** A file of nginx's directory (a log), or "" when it does not exist. */
  public String file(String name) throws IOException {
    Path f = dir.resolve(name);
    return Files.exists(f) ? Files.readString(f) : "";
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

  /** Whether the kernel lists a listening socket on 127.0.0.1:{@code port}, while {@code process} lives. */
  static final class Listening {
    private Listening() {
    }

    static boolean on(int port, Process process) {
      if (!process.isAlive()) {
        throw new AssertionError("the process exited with " + process.exitValue());
      }
      String local = String.format("0100007F:%04X", port);
      try {
        return Files.readAllLines(Path.of("/proc/net/tcp")).stream()
          .map(l -> l.trim().split("\\s+"))
          .anyMatch(f -> f.length > 3 && f[1].equals(local) && f[3].equals("0A"));
      } catch (IOException e) {
        return false;
      }
    }
  }
}
