package dev.ferry.support;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code bin/ferry}, the README's way to start Ferry, as the tests run it: a child process with a clean environment
 * (so that a developer's JAVA_OPTS or JAVA_TOOL_OPTIONS cannot change what is tested), its output read line by line.
 */
public final class Launcher implements AutoCloseable {

  /** The launcher in this working tree. */
  public static final Path SCRIPT = Path.of("bin", "ferry").toAbsolutePath();

  /** What the launcher reads besides PATH; none reaches a child unless a test sets it. */
  private static final List<String> VARIABLES = List.of("JAVA_HOME", "JAVA_OPTS", "JAVA_TOOL_OPTIONS",
    "JDK_JAVA_OPTIONS", "_JAVA_OPTIONS", "FERRY_JAR", "FERRY_JVM_DEFAULTS");

  private final Process process;
  private final Thread reader;
  private final List<String> output = new CopyOnWriteArrayList<>();

  private Launcher(Process process) {
    this.process = process;
    reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(
        new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = r.readLine()) != null) {
          output.add(line);
        }
      } catch (IOException ignored) {
        // the process ended
      }
    }, "launcher-output");
    reader.setDaemon(true);
    reader.start();
  }

  /**
   * Starts {@code script args...} in {@code dir}, stdout and stderr merged. The environment is this one without the
   * launcher's variables and without FERRY_* (Ferry's settings), then {@code env}.
   */
  public static Launcher start(Path script, Path dir, Map<String, String> env, String... args) {
    List<String> command = new ArrayList<>();
    command.add(script.toString());
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true);
    pb.environment().keySet().removeIf(k -> VARIABLES.contains(k) || k.startsWith("FERRY_"));
    pb.environment().putAll(env);
    try {
      Launcher l = new Launcher(pb.start());
      l.process.getOutputStream().close();
      return l;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A jar without classes whose manifest runs {@code dev.ferry.Main} on this test JVM's class path (target/classes
   * and the dependencies), as {@code java -jar} runs the shaded jar: tests run before {@code package}, so there is
   * no target/ferry.jar yet.
   */
  public static Path pathingJar(Path dir) throws IOException {
    String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    StringBuilder urls = new StringBuilder();
    for (String entry : classpath.split(java.io.File.pathSeparator)) {
      if (!entry.isEmpty()) {
        urls.append(urls.length() == 0 ? "" : " ").append(Path.of(entry).toAbsolutePath().toUri());
      }
    }
    Manifest manifest = new Manifest();
    manifest.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
    manifest.getMainAttributes().put(Attributes.Name.MAIN_CLASS, "dev.ferry.Main");
    manifest.getMainAttributes().put(Attributes.Name.CLASS_PATH, urls.toString());
    Path jar = dir.resolve("ferry.jar");
    try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out, manifest)) {
      j.flush();
    }
    return jar;
  }

  /** This test JVM's runtime, for JAVA_HOME: the launcher then runs the same Java as the tests. */
  public static String javaHome() {
    return System.getProperty("java.home");
  }

  public long pid() {
    return process.pid();
  }

  public List<String> output() {
    return output;
  }

  /** Waits (bounded) for an output line matching {@code pattern}; returns its match. */
  public Matcher awaitLine(String what, Pattern pattern, Duration timeout) {
    Matcher[] found = new Matcher[1];
    try {
      Await.until(what, timeout, () -> {
        for (String l : output) {
          Matcher m = pattern.matcher(l);
          if (m.find()) {
            found[0] = m;
            return true;
          }
        }
        if (!process.isAlive()) {
          throw new AssertionError("bin/ferry exited with " + process.exitValue() + " before " + what + "; output:\n"
            + String.join("\n", output));
        }
        return false;
      });
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "; output:\n" + String.join("\n", output), e);
    }
    return found[0];
  }

  /** Waits (bounded) for the process to end and its output to be read; returns its exit status. */
  public int waitFor(Duration timeout) throws InterruptedException {
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      throw new AssertionError("bin/ferry still running after " + timeout + "; output:\n" + String.join("\n", output));
    }
    reader.join(5000);
    return process.exitValue();
  }

  @Override
  public void close() {
    process.destroyForcibly();
  }
}
