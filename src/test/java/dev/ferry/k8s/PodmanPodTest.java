package dev.ferry.k8s;

import dev.ferry.support.Backend;
import dev.ferry.support.Peer;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Quantity;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The image and the pod, run for real (issue #14): builds k8s/Dockerfile on base images made from Debian packages
 * (k8s/image/build-base.sh), plays the Deployment and its ConfigMap with {@code podman kube play}, and checks what
 * only a running container shows: uid and read-only root, native epoll from the /tmp emptyDir, JAVA_TOOL_OPTIONS
 * in effect, admin mutations refused without the optional admin Secret, readiness and a byte-exact exchange through
 * the published ports, a ConfigMap update applied without closing an open connection, and a drain on stop within
 * terminationGracePeriodSeconds.
 *
 * <p>The upstreams are two echo backends on the host's 127.0.0.1, reached from the pod's slirp4netns network as
 * 10.0.2.2. The tests share one pod and run in order; the stop comes last. Setup and clean-up: k8s/image/README.md.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodmanPodTest {

  private static final Logger log = LoggerFactory.getLogger(PodmanPodTest.class);
  private static final String IMAGE = "localhost/ferry:podtest";
  private static final String HOST_FROM_POD = "10.0.2.2";
  private static final int UID = 10001;

  private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  private final CountDownLatch releaseStream = new CountDownLatch(1);
  private Backend a;
  private Backend b;
  private PlayedPod pod;
  private int proxyPort;
  private int adminPort;

  @BeforeAll
  @Timeout(value = 25, unit = TimeUnit.MINUTES) // fresh machine: both bases (about 7 min here) + the image build
  void buildTheImageAndPlayThePod() throws IOException {
    Podman.requireUsable();
    long start = System.nanoTime();
    String runtimeBase = Podman.baseImage("jre");
    Podman.requireContainersRun(runtimeBase);
    String buildBase = Podman.baseImage("build");
    buildImage(buildBase, runtimeBase);
    log.info("conn=- image {} built in {} s on {} and {}", IMAGE, (System.nanoTime() - start) / 1_000_000_000,
      buildBase, runtimeBase);
    a = new Backend(this::serve);
    b = new Backend(this::serve);
    proxyPort = freePort();
    adminPort = freePort();
    String runId = HexFormat.of().toHexDigits((int) (ProcessHandle.current().pid() ^ System.nanoTime())).substring(2);
    PodManifest manifest = PodManifest.render(runId, IMAGE, HOST_FROM_POD + ":" + a.address().port(),
      Map.of("proxy", proxyPort, "admin", adminPort));
    pod = PlayedPod.play(manifest);
    awaitStatus("/health/ready", 200, Duration.ofSeconds(90));
  }

  /**
   * The build stage runs Maven in the container, on the host's Maven repository (mounted, so the build needs the
   * network only for what the host's own build has not fetched yet) and the host's Java trust store (mounted read-only:
   * where egress TLS is re-signed by a machine CA, the image's own trust store would refuse it). Both are build-time
   * volumes, never layers: the image carries neither. {@code --network host}: Maven reaches Central as the host does.
   */
  private static void buildImage(String buildBase, String runtimeBase) throws IOException {
    Path m2 = Path.of(System.getProperty("user.home"), ".m2");
    Files.createDirectories(m2);
    List<String> args = new ArrayList<>(List.of("build", "--file", "k8s/Dockerfile",
      "--build-arg", "BUILD_IMAGE=" + buildBase, "--build-arg", "RUNTIME_IMAGE=" + runtimeBase,
      "--network", "host", "--volume", m2 + ":/root/.m2", "--label", "dev.ferry.test=podman-pod", "--tag", IMAGE));
    Path trust = Path.of(System.getProperty("java.home"), "lib", "security", "cacerts");
    if (Files.exists(trust)) {
      args.addAll(List.of("--volume", trust.toRealPath() + ":/etc/ssl/certs/java/cacerts:ro"));
    }
    args.add(".");
    Tools.Result previous = Podman.run(Duration.ofMinutes(1), "image", "inspect", "--format", "{{.Id}}", IMAGE);
    Podman.ok(Duration.ofMinutes(10), args.toArray(String[]::new));
    // The previous run's image, untagged by this build, goes (with its runtime-stage layers). Not a label prune:
    // buildah puts the label on the build stage too, and that stage's dangling image is the Maven layer cache.
    String now = Podman.ok(Duration.ofMinutes(1), "image", "inspect", "--format", "{{.Id}}", IMAGE).strip();
    if (previous.exit() == 0 && !previous.output().strip().equals(now)) {
      Podman.run(Duration.ofMinutes(1), "rmi", previous.output().strip());
    }
  }

  @AfterAll
  void removeEverythingThePodMade() throws IOException {
    try {
      if (pod != null) {
        pod.close();
        assertThat(Podman.run(Duration.ofSeconds(30), "pod", "exists", pod.manifest.podName()).exit())
          .as("pod %s removed", pod.manifest.podName()).isEqualTo(1);
        assertThat(Podman.run(Duration.ofSeconds(30), "volume", "exists", pod.manifest.configMapName()).exit())
          .as("volume %s removed", pod.manifest.configMapName()).isEqualTo(1);
      }
    } finally {
      releaseStream.countDown();
      if (a != null) {
        a.close();
      }
      if (b != null) {
        b.close();
      }
    }
  }

  @Test
  @Order(1)
  void runsAsUid10001OnAReadOnlyRootWithNativeEpollUnpackedIntoTheTmpEmptyDir() throws IOException {
    Path proc = pod.hostProc();
    String status = Files.readString(proc.resolve("status"));
    assertThat(field(status, "Uid")).as("uids of the Ferry process").isEqualTo(UID + "\t" + UID + "\t" + UID + "\t" + UID);
    assertThat(field(status, "Gid")).as("gids of the Ferry process").isEqualTo(UID + "\t" + UID + "\t" + UID + "\t" + UID);
    assertThat(field(status, "CapEff")).as("capabilities: drop ALL").isEqualTo("0000000000000000");
    assertThat(field(status, "NoNewPrivs")).as("allowPrivilegeEscalation: false").isEqualTo("1");
    assertThat(field(status, "Seccomp")).as("seccomp filter (RuntimeDefault)").isEqualTo("2");

    Map<String, String> mounts = mountOptions(Files.readString(proc.resolve("mountinfo")));
    assertThat(mounts.get("/")).as("root filesystem mount options").startsWith("ro,");
    assertThat(mounts.get("/etc/ferry")).as("ConfigMap mount options").startsWith("ro,");
    assertThat(mounts.get("/tmp")).as("/tmp emptyDir mount options").startsWith("rw,");
    Tools.Result write = pod.exec(List.of("touch", "/opt/ferry/probe"), Duration.ofSeconds(30));
    assertThat(write.exit()).as("writing to the image as uid %d: %s", UID, write.output()).isNotZero();
    assertThat(write.output()).contains("Read-only file system");
    assertThat(pod.exec(List.of("touch", "/tmp/probe"), Duration.ofSeconds(30)).exit()).as("/tmp is writable").isZero();

    String logs = pod.logs();
    assertThat(logs).contains("conn=- transport: native epoll").doesNotContain("NIO fallback");
  }

  @Test
  @Order(2)
  void jvmFlagsFromJavaToolOptionsAndTheResourceFieldRefTookEffect() throws Exception {
    Container spec = pod.manifest.original.getSpec().getTemplate().getSpec().getContainers().get(0);
    String flags = env(spec, "JAVA_TOOL_OPTIONS").getValue();
    assertThat(pod.logs()).as("the JVM's own line").contains("Picked up JAVA_TOOL_OPTIONS: " + flags);

    // The running JVM, as it reports itself: Serial's heap pools and collectors, and the heap cap from the limit.
    String metrics = get("/metrics").body();
    assertThat(flags).contains("-XX:+UseSerialGC");
    Map<String, Double> heap = samples(metrics, "jvm_memory_max_bytes\\{area=\"heap\",id=\"([^\"]+)\"\\}");
    assertThat(heap.keySet()).as("heap pools").containsExactlyInAnyOrder("Eden Space", "Survivor Space", "Tenured Gen");
    assertThat(samples(metrics, "jvm_gc_pause_seconds_count\\{[^}]*gc=\"([^\"]+)\"[^}]*\\}").keySet())
      .as("collectors that ran").isSubsetOf("Copy", "MarkSweepCompact");
    Matcher percent = Pattern.compile("-XX:MaxRAMPercentage=(\\d+)").matcher(flags);
    assertThat(percent.find()).as("MaxRAMPercentage in %s", flags).isTrue();
    long limit = Quantity.getAmountInBytes(spec.getResources().getLimits().get("memory")).longValueExact();
    long cap = limit * Integer.parseInt(percent.group(1)) / 100;
    // Serial's young generation is Eden plus two survivor spaces; the pools' maxima then add up to the heap cap.
    double total = heap.values().stream().mapToDouble(Double::doubleValue).sum() + heap.get("Survivor Space");
    assertThat(total).as("heap cap in bytes (%d%% of the %d-byte memory limit)", Integer.parseInt(percent.group(1)), limit)
      .isBetween(cap * 0.97, cap * 1.0);

    // The entrypoint bin/ferry exec'd java (PID 1 is the JVM, so SIGTERM reaches it) and, since JAVA_TOOL_OPTIONS
    // gives every setting it has a default for, added no flag of its own that would beat the limit-relative heap.
    List<String> argv = List.of(Files.readString(pod.hostProc().resolve("cmdline")).split("\0"));
    assertThat(argv.get(0)).as("the container's main process, %s", argv).endsWith("/java");
    assertThat(argv.subList(1, argv.size())).as("java's arguments")
      .containsExactly("-jar", "/opt/ferry/ferry.jar", "--config", "/etc/ferry/ferry.yaml");
    // Ferry's start-up line: the heap fixed at the share of the limit from the start, as -Xms = -Xmx outside a pod.
    Matcher direct = Pattern.compile("-XX:MaxDirectMemorySize=(\\d+)m").matcher(flags);
    assertThat(direct.find()).as("MaxDirectMemorySize in %s", flags).isTrue();
    assertThat(flags).contains("-XX:InitialRAMPercentage=" + percent.group(1));
    String mib = cap / (1024 * 1024) + " MiB";
    assertThat(pod.logs()).contains("conn=- JVM: ").contains(", collector Serial (Copy, MarkSweepCompact), heap initial "
      + mib + ", max " + mib + ", direct memory max " + direct.group(1) + " MiB, ");

    // FERRY_INSTANCES comes from requests.cpu through a resourceFieldRef (divisor 1, rounded up).
    long cpus = (long) Math.ceil(Quantity.getAmountInBytes(spec.getResources().getRequests().get("cpu")).doubleValue());
    assertThat(pod.logs()).contains("(" + cpus + " listener instances,");
  }

  /** The Deployment's FERRY_ADMIN_TOKEN comes from an optional Secret that this run does not create. */
  @Test
  @Order(3)
  void withoutTheOptionalAdminSecretThePodRunsAndRefusesAdminMutations() throws Exception {
    Container spec = pod.manifest.original.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(env(spec, "FERRY_ADMIN_TOKEN").getValueFrom().getSecretKeyRef().getOptional()).isTrue();
    assertThat(pod.logs()).contains("conn=- admin: no admin.token set: mutations (kill, drain, ready) are refused");
    HttpResponse<String> drain = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort
        + "/routes/default/upstreams/" + HOST_FROM_POD + ":" + a.address().port() + "/drain"))
      .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.noBody()).build(),
      HttpResponse.BodyHandlers.ofString());
    assertThat(drain.statusCode()).as("POST .../drain without admin.token: %s", drain.body()).isEqualTo(403);
    assertThat(drain.body()).contains("admin mutations are disabled: set admin.token (FERRY_ADMIN_TOKEN)");
    assertThat(get("/routes").statusCode()).as("listings stay open without a token").isEqualTo(200);
  }

  @Test
  @Order(4)
  void readinessAnswers200AndTheProxyPortCarriesAByteExactExchange() throws Exception {
    assertThat(get("/health/ready").statusCode()).isEqualTo(200);
    assertThat(get("/health/live").statusCode()).isEqualTo(200);
    int before = a.accepted().size();
    byte[] payload = Peer.randomBytes(1 << 20, 14);
    try (Peer client = echoClient()) {
      byte[] back = echo(client, payload);
      assertThat(Peer.Digest.of(back)).as("bytes back through the pod").isEqualTo(Peer.Digest.of(payload));
    }
    assertThat(a.accepted()).as("connections backend A accepted").hasSize(before + 1);
  }

  @Test
  @Order(5)
  void aChangedConfigMapReachesTheMountAndNewUpstreamsApplyWithoutClosingAnOpenConnection() throws Exception {
    String oldUpstream = HOST_FROM_POD + ":" + a.address().port();
    String newUpstream = HOST_FROM_POD + ":" + b.address().port();
    int aBefore = a.accepted().size();
    int bBefore = b.accepted().size();
    try (Peer old = echoClient()) {
      assertThat(echo(old, "through A".getBytes())).asString().isEqualTo("through A");
      a.awaitAccepted(aBefore + 1);

      String ferryYaml = PodManifest.withUpstream(pod.manifest.configMap.getData().get("ferry.yaml"), newUpstream);
      pod.updateConfigMap("ferry.yaml", ferryYaml);
      Tools.Result mounted = pod.exec(List.of("cat", "/etc/ferry/ferry.yaml"), Duration.ofSeconds(30));
      assertThat(mounted.output()).as("/etc/ferry/ferry.yaml in the container").isEqualTo(ferryYaml);
      pod.awaitLogLine("the upstream reload", Duration.ofSeconds(20), l ->
        l.endsWith("conn=- config reload: upstreams [" + oldUpstream + "] -> [" + newUpstream + "]"));

      try (Peer fresh = echoClient()) {
        assertThat(echo(fresh, "through B".getBytes())).asString().isEqualTo("through B");
      }
      b.awaitAccepted(bBefore + 1);
      assertThat(a.accepted()).as("connections A accepted after the reload").hasSize(aBefore + 1);
      // Opened before the reload: still open, still relaying both ways through A.
      assertThat(echo(old, "still through A".getBytes())).asString().isEqualTo("still through A");
      assertThat(pod.logs()).doesNotContain("config reload rejected");
    }
  }

  @Test
  @Order(6)
  @Timeout(value = 3, unit = TimeUnit.MINUTES)
  void stoppingThePodDrainsATransferInFlightAndExitsZeroWithinTheGracePeriod() throws Exception {
    PodDrain.run(this, pod);
  }

  // --- shared with PodDrain ------------------------------------------------------------------------------------

  static final int STREAM_HALF = 4 << 20;

  int proxyPort() {
    return proxyPort;
  }

  CountDownLatch releaseStream() {
    return releaseStream;
  }

  HttpResponse<String> get(String path) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + adminPort + path))
      .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  /**
   * What the backends do: the first byte picks the mode. {@code 'E'}: echo every byte until the peer closes.
   * {@code 'S'}: stream {@link #STREAM_HALF} bytes, wait for {@link #releaseStream}, stream as many again, close.
   */
  private void serve(Peer peer) throws IOException {
    var in = peer.socket().getInputStream();
    var out = peer.socket().getOutputStream();
    try {
      int mode = in.read();
      if (mode == 'S') {
        byte[] data = PodDrain.streamed();
        out.write(data, 0, STREAM_HALF);
        out.flush();
        if (!releaseStream.await(2, TimeUnit.MINUTES)) {
          return;
        }
        out.write(data, STREAM_HALF, STREAM_HALF);
        out.flush();
      } else if (mode == 'E') {
        byte[] buf = new byte[16 * 1024];
        for (int n; (n = in.read(buf)) >= 0; ) {
          out.write(buf, 0, n);
          out.flush();
        }
      }
    } catch (SocketException closed) {
      // closed by Ferry or by the test's clean-up
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      peer.close();
    }
  }

  /** A client of the proxy port whose upstream connection echoes (mode byte {@code 'E'} sent). */
  private Peer echoClient() throws IOException {
    return Peer.connect(proxyPort).write(new byte[] {'E'});
  }

  /** Sends {@code payload} from another thread (so neither side's buffers can block both) and reads it back. */
  private static byte[] echo(Peer client, byte[] payload) throws Exception {
    CompletableFuture<Void> sent = CompletableFuture.runAsync(() -> {
      try {
        client.write(payload);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
    byte[] back = client.readExactly(payload.length);
    sent.get(30, TimeUnit.SECONDS);
    return back;
  }

  private void awaitStatus(String path, int status, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "no answer";
    while (System.nanoTime() < deadline) {
      try {
        HttpResponse<String> r = get(path);
        if (r.statusCode() == status) {
          return;
        }
        last = "HTTP " + r.statusCode();
      } catch (IOException e) {
        last = e.toString();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted", e);
      }
      PlayedPod.sleep(Duration.ofMillis(250));
    }
    throw new AssertionError("GET " + path + " on the published admin port did not answer " + status + " within "
      + timeout + " (last: " + last + ")\nlog:\n" + pod.logs());
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static EnvVar env(Container c, String name) {
    return c.getEnv().stream().filter(e -> e.getName().equals(name)).findFirst()
      .orElseThrow(() -> new AssertionError("no env " + name + " in the Deployment"));
  }

  private static String field(String procStatus, String name) {
    for (String line : procStatus.split("\n")) {
      if (line.startsWith(name + ":")) {
        return line.substring(name.length() + 1).strip();
      }
    }
    throw new AssertionError("no " + name + " in /proc/<pid>/status");
  }

  /** Mount point to its per-mount options, from /proc/<pid>/mountinfo (field 5 and 6). */
  private static Map<String, String> mountOptions(String mountinfo) {
    Map<String, String> options = new HashMap<>();
    for (String line : mountinfo.split("\n")) {
      String[] f = line.split(" ");
      if (f.length > 5) {
        options.put(f[4], f[5] + ",");
      }
    }
    return options;
  }

  /** Label value captured by group 1 to the sample value, for every line of a Prometheus text page that matches. */
  private static Map<String, Double> samples(String page, String series) {
    Map<String, Double> found = new TreeMap<>();
    Matcher m = Pattern.compile("(?m)^" + series + " (\\S+)$").matcher(page);
    while (m.find()) {
      found.put(m.group(1), Double.parseDouble(m.group(2)));
    }
    return found;
  }
}
