package dev.ferry.k8s;

import org.junit.jupiter.api.Assumptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real tools the k8s checks run: promtool and prometheus (Debian package {@code prometheus}, installed by
 * .ci/run) and kubectl (optional). A missing Prometheus tool skips the test on a developer machine and fails it
 * in CI ({@code CI=true}), where .ci/run must have installed it.
 */
final class Tools {

  private static final Logger log = LoggerFactory.getLogger(Tools.class);

  static final Path PROMTOOL = Path.of("/usr/bin/promtool");
  static final Path PROMETHEUS = Path.of("/usr/bin/prometheus");

  private Tools() {
  }

  static Path require(Path tool) {
    if (!Files.isExecutable(tool)) {
      String why = tool + " not found: install the Debian package 'prometheus' (.ci/run does)";
      if ("true".equalsIgnoreCase(System.getenv("CI"))) {
        throw new AssertionError(why);
      }
      Assumptions.abort(why);
    }
    return tool;
  }

  /** The first executable kubectl on PATH, or null. */
  static Path kubectl() {
    String path = System.getenv().getOrDefault("PATH", "");
    for (String dir : path.split(":")) {
      Path p = Path.of(dir, "kubectl");
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** The outcome of one finished process: exit code and the merged stdout+stderr. */
  record Result(int exit, String output) {
  }

  /** Runs {@code command} to completion (bounded by {@code timeout}), feeding {@code stdin} if not null. */
  static Result run(List<String> command, String stdin, Duration timeout) {
    return run(new ProcessBuilder(command), stdin, timeout);
  }

  /** Runs {@code pb}'s command (its environment as set) like {@link #run(List, String, Duration)}. */
  static Result run(ProcessBuilder pb, String stdin, Duration timeout) {
    List<String> command = pb.command();
    Path out = null;
    Process p = null;
    try {
      out = Files.createTempFile("ferry-tool", ".out");
      p = pb.redirectErrorStream(true).redirectOutput(out.toFile()).start();
      if (stdin != null) {
        try (var in = p.getOutputStream()) {
          in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
      } else {
        p.getOutputStream().close();
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        throw new AssertionError(command + " did not finish within " + timeout + "; output so far:\n"
          + Files.readString(out));
      }
      String output = Files.readString(out);
      log.debug("conn=- {} exited {}:\n{}", command, p.exitValue(), output);
      return new Result(p.exitValue(), output);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted running " + command, e);
    } finally {
      if (p != null && p.isAlive()) {
        p.destroyForcibly();
      }
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException ignored) {
          // a temp file
        }
      }
    }
  }
}
