package dev.ferry.soak;

import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Ferry as a real child process: started with a command, its ports parsed from the ready line, its stdout (the
 * access log, one JSON line per connection) and stderr (diagnostics) read continuously, teed to files and checked.
 * {@link #close()} kills it by PID if it is still alive.
 */
final class FerryChild implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(FerryChild.class);

  /** The soak's two routes: {@code plain}, and {@code proxied} (clients send a PROXY protocol header first). */
  static final Pattern READY = Pattern.compile("Ferry ready: routes plain 127\\.0\\.0\\.1:(\\d+) -> \\[.*?], "
    + "proxied 127\\.0\\.0\\.1:(\\d+) -> \\[.*?] \\((.*)\\), admin 127\\.0\\.0\\.1:(\\d+)");
  static final Pattern STOPPED = Pattern.compile(
    "Ferry stopped: drained (\\d+), forced (\\d+); connections open (\\d+), buffers held (\\d+)");
  private static final int TAIL = 300;
  private static final int MAX_NOTABLE = 400;

  /** One access-log line, the fields the soak uses. */
  record AccessLine(long id, int clientPort, String reason, String side, String detail, long bytesUpstream,
                    long bytesDownstream) {
  }

  private final Process process;
  private final Thread outReader;
  private final Thread errReader;
  private final Deque<String> tail = new ArrayDeque<>();
  private final List<String> notable = new CopyOnWriteArrayList<>();
  /** The last stderr line was notable (its stack trace's lines are too); the stderr reader's thread only. */
  private boolean lastNotable;
  private final Object lock = new Object();
  // Access-log aggregates, guarded by lock.
  private final Set<Long> ids = new HashSet<>();
  private final List<Long> duplicateIds = new ArrayList<>();
  private final Map<String, Long> reasons = new TreeMap<>();
  private final List<AccessLine> lines = new ArrayList<>();
  private final List<String> strayStdout = new ArrayList<>();
  private long accessLines;
  private long bytesUpstream;
  private long bytesDownstream;
  private long leakLines;
  private long unexpectedReadLines;
  /** Where the first of them is in {@link #notable} (its stack trace follows it), or -1. */
  private int firstUnexpectedRead = -1;
  private long doubleFreeLines;
  private volatile String stoppedLine;
  private volatile int proxyPort = -1;
  private volatile int proxiedPort = -1;
  private volatile int adminPort = -1;
  private volatile String readyLine;

  private FerryChild(Process process, Path workDir) throws IOException {
    this.process = process;
    BufferedWriter outFile = Files.newBufferedWriter(workDir.resolve("ferry-stdout.log"));
    BufferedWriter errFile = Files.newBufferedWriter(workDir.resolve("ferry-stderr.log"));
    outReader = reader("ferry-stdout", process.getInputStream(), outFile, this::onStdout);
    errReader = reader("ferry-stderr", process.getErrorStream(), errFile, this::onStderr);
  }

  /** Starts the process and waits until it logs its ready line (or fails). */
  static FerryChild start(List<String> command, Path workDir, Duration readyTimeout) throws IOException {
    log.info("conn=- starting Ferry: {}", String.join(" ", abbreviate(command)));
    Process p = new ProcessBuilder(command).start();
    FerryChild child = new FerryChild(p, workDir);
    long deadline = System.nanoTime() + readyTimeout.toNanos();
    while (child.readyLine == null) {
      if (!p.isAlive()) {
        child.joinReaders();
        throw new IOException("Ferry exited with status " + p.exitValue() + " before it was ready; output:\n"
          + child.tail());
      }
      if (System.nanoTime() > deadline) {
        child.close();
        throw new IOException("Ferry not ready within " + readyTimeout.toSeconds() + " s; output:\n" + child.tail());
      }
      SoakClient.sleep(50);
    }
    log.info("conn=- Ferry pid {} ready: proxy port {}, admin port {}", p.pid(), child.proxyPort, child.adminPort);
    return child;
  }

  private static List<String> abbreviate(List<String> command) {
    List<String> out = new ArrayList<>();
    for (String s : command) {
      out.add(s.length() > 200 ? s.substring(0, 120) + "...(" + s.length() + " chars)" : s);
    }
    return out;
  }

  private Thread reader(String name, InputStream in, BufferedWriter file, Consumer<String> onLine) {
    Thread t = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8)); file) {
        String line;
        while ((line = r.readLine()) != null) {
          file.write(line);
          file.newLine();
          onLine.accept(line);
        }
        file.flush();
      } catch (IOException ignored) {
        // the process ended
      }
    }, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void onStdout(String line) {
    if (!line.startsWith("{")) {
      checkNotable(line, false);
      synchronized (lock) {
        if (strayStdout.size() < 50) {
          strayStdout.add(line);
        }
      }
      return;
    }
    JsonObject j;
    try {
      j = new JsonObject(line);
    } catch (RuntimeException e) {
      synchronized (lock) {
        if (strayStdout.size() < 50) {
          strayStdout.add(line);
        }
      }
      return;
    }
    String client = j.getString("client", "");
    int port = -1;
    int colon = client.lastIndexOf(':');
    if (colon >= 0) {
      try {
        port = Integer.parseInt(client.substring(colon + 1));
      } catch (NumberFormatException ignored) {
        // unknown
      }
    }
    AccessLine a = new AccessLine(j.getLong("id", -1L), port, j.getString("reason"), j.getString("side"),
      j.getString("detail"), j.getLong("bytes_upstream", 0L), j.getLong("bytes_downstream", 0L));
    synchronized (lock) {
      accessLines++;
      if (!ids.add(a.id())) {
        duplicateIds.add(a.id());
      }
      reasons.merge(a.reason() + "/" + a.side(), 1L, Long::sum);
      bytesUpstream += a.bytesUpstream();
      bytesDownstream += a.bytesDownstream();
      lines.add(a);
    }
  }

  private void onStderr(String line) {
    synchronized (lock) {
      tail.addLast(line);
      if (tail.size() > TAIL) {
        tail.removeFirst();
      }
    }
    checkNotable(line, true);
    if (readyLine == null) {
      Matcher m = READY.matcher(line);
      if (m.find()) {
        proxyPort = Integer.parseInt(m.group(1));
        proxiedPort = Integer.parseInt(m.group(2));
        adminPort = Integer.parseInt(m.group(4));
        readyLine = line;
      }
    }
    if (line.contains("Ferry stopped:")) {
      stoppedLine = line;
    }
  }

  private void checkNotable(String line, boolean stderr) {
    boolean leak = line.contains("LEAK:");
    boolean doubleFree = line.contains("double free detected");
    // ProxyConnection's line for a read failure that is no socket error (a stale epoll event handed to a socket that
    // had not connected yet was one: DataChannels).
    boolean unexpectedRead = line.contains("ProxyConnection - conn=") && line.endsWith(" while reading");
    if (leak || doubleFree || unexpectedRead) {
      synchronized (lock) {
        if (leak) {
          leakLines++;
        }
        if (doubleFree) {
          doubleFreeLines++;
        }
        if (unexpectedRead) {
          unexpectedReadLines++;
        }
      }
    }
    boolean continuation = stderr && lastNotable && (line.startsWith("\tat ") || line.startsWith("Caused by: "));
    boolean isNotable = (leak || doubleFree || unexpectedRead || line.contains(" ERROR ") || line.contains("Exception")
      || continuation) && notable.size() < MAX_NOTABLE;
    if (stderr) {
      lastNotable = isNotable;
    }
    if (isNotable) {
      // A stack trace's lines follow their notable line: where an unexpected exception came from is the diagnosis.
      notable.add(line);
      if (unexpectedRead) {
        synchronized (lock) {
          if (firstUnexpectedRead < 0) {
            firstUnexpectedRead = notable.lastIndexOf(line);
          }
        }
      }
    }
  }

  long pid() {
    return process.pid();
  }

  int proxyPort() {
    return proxyPort;
  }

  /** The route that takes a PROXY protocol v1 header before the client's bytes. */
  int proxiedPort() {
    return proxiedPort;
  }

  int adminPort() {
    return adminPort;
  }

  boolean alive() {
    return process.isAlive();
  }

  long accessLines() {
    synchronized (lock) {
      return accessLines;
    }
  }

  long distinctIds() {
    synchronized (lock) {
      return ids.size();
    }
  }

  List<Long> duplicateIds() {
    synchronized (lock) {
      return List.copyOf(duplicateIds);
    }
  }

  Map<String, Long> reasons() {
    synchronized (lock) {
      return new TreeMap<>(reasons);
    }
  }

  long bytesUpstream() {
    synchronized (lock) {
      return bytesUpstream;
    }
  }

  long bytesDownstream() {
    synchronized (lock) {
      return bytesDownstream;
    }
  }

  /** Lines reporting a read failure that is no socket error (an exception from the read path or a handler). */
  long unexpectedReadLines() {
    synchronized (lock) {
      return unexpectedReadLines;
    }
  }

  /** The first of those lines and up to 15 after it (its stack trace), or nothing. */
  List<String> firstUnexpectedRead() {
    int first;
    synchronized (lock) {
      first = firstUnexpectedRead;
    }
    List<String> lines = notable();
    return first < 0 ? List.of() : lines.subList(first, Math.min(lines.size(), first + 16));
  }

  long leakLines() {
    synchronized (lock) {
      return leakLines;
    }
  }

  long doubleFreeLines() {
    synchronized (lock) {
      return doubleFreeLines;
    }
  }

  List<String> strayStdout() {
    synchronized (lock) {
      return List.copyOf(strayStdout);
    }
  }

  /** Error, exception, leak and double-free lines seen on either stream (capped). */
  List<String> notable() {
    return List.copyOf(notable);
  }

  /** The access-log lines of clients that used this local port (ports are reused: several may match). */
  List<AccessLine> linesForClientPort(int port) {
    synchronized (lock) {
      return lines.stream().filter(l -> l.clientPort() == port).toList();
    }
  }

  String tail() {
    synchronized (lock) {
      return String.join("\n", tail);
    }
  }

  String stoppedLine() {
    return stoppedLine;
  }

  /**
   * Asks the JVM for a full garbage collection through {@code jcmd <pid> GC.run}, so heap use can be compared and
   * Netty's leak detector can see unreachable buffers. Returns false when jcmd is missing or fails.
   */
  boolean gc() {
    Path jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd");
    if (!Files.isExecutable(jcmd)) {
      return false;
    }
    try {
      Process p = new ProcessBuilder(jcmd.toString(), String.valueOf(process.pid()), "GC.run")
        .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return false;
      }
      return p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** Resident set size of the process in KiB from /proc, or -1. */
  long rssKib() {
    try {
      for (String l : Files.readAllLines(Path.of("/proc", String.valueOf(process.pid()), "status"))) {
        if (l.startsWith("VmRSS:")) {
          return Long.parseLong(l.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException ignored) {
      // not Linux, or gone
    }
    return -1;
  }

  /** Sends a real SIGTERM (as Kubernetes does) and waits for the exit status; -1 if it did not exit in time. */
  int sigterm(Duration timeout) throws IOException, InterruptedException {
    int rc = new ProcessBuilder("kill", "-TERM", String.valueOf(process.pid())).start().waitFor();
    if (rc != 0) {
      throw new IOException("kill -TERM " + process.pid() + " failed with status " + rc);
    }
    if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
      return -1;
    }
    joinReaders();
    return process.exitValue();
  }

  private void joinReaders() {
    try {
      outReader.join(5000);
      errReader.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    if (process.isAlive()) {
      log.warn("conn=- Ferry pid {} still alive: killing it", process.pid());
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    joinReaders();
  }
}
