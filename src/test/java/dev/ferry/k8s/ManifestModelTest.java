package dev.ferry.k8s;

import dev.ferry.config.ConfigLoader;
import dev.ferry.config.EnvOverrides;
import dev.ferry.config.FerryOptions;
import dev.ferry.support.FerryHarness;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.autoscaling.v2.HorizontalPodAutoscaler;
import io.fabric8.kubernetes.api.model.policy.v1.PodDisruptionBudget;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * k8s/ as a cluster would take it, checked against Ferry itself: every object parses with the Kubernetes model
 * (fabric8, no kubectl), and the cross-references hold: selectors, ports, probes, the config mount, the grace
 * period against Ferry's own timeouts (read through {@link ConfigLoader}), env names, alerts and their runbook.
 */
class ManifestModelTest {

  private static Manifests k8s;
  private static Deployment deployment;
  private static PodSpec pod;
  private static Container ferry;

  @BeforeAll
  static void load() {
    k8s = Manifests.load();
    deployment = k8s.one(Deployment.class, "ferry");
    pod = deployment.getSpec().getTemplate().getSpec();
    assertThat(pod.getContainers()).extracting(Container::getName).containsExactly("ferry");
    ferry = pod.getContainers().get(0);
  }

  @Test
  void everyListedObjectParsesWithTheKubernetesModelWithoutUnknownFields() {
    Map<String, String> kinds = k8s.objects.stream().collect(Collectors.toMap(
      o -> o.getKind() + "/" + o.getMetadata().getName(), HasMetadata::getApiVersion, (a, b) -> {
        throw new AssertionError("duplicate object " + a);
      }, TreeMap::new));
    assertThat(kinds).containsExactlyInAnyOrderEntriesOf(Map.of(
      "Deployment/ferry", "apps/v1",
      "Service/ferry", "v1",
      "PodDisruptionBudget/ferry", "policy/v1",
      "HorizontalPodAutoscaler/ferry", "autoscaling/v2",
      "ServiceMonitor/ferry", "monitoring.coreos.com/v1",
      "PrometheusRule/ferry", "monitoring.coreos.com/v1",
      "ConfigMap/ferry-config", "v1",
      "ConfigMap/ferry-dashboard", "v1"));
    for (HasMetadata o : k8s.objects) {
      if (!(o instanceof GenericKubernetesResource)) {
        assertThat(Manifests.unknownFields(o)).as("fields the model does not know in %s", o.getKind()).isEmpty();
      }
    }
  }

  @Test
  void selectorsOfTheServicePdbAndServiceMonitorMatchThePodLabels() {
    Map<String, String> podLabels = deployment.getSpec().getTemplate().getMetadata().getLabels();
    assertThat(podLabels).containsAllEntriesOf(deployment.getSpec().getSelector().getMatchLabels());
    assertThat(deployment.getSpec().getSelector().getMatchExpressions()).isNullOrEmpty();
    Service service = k8s.one(Service.class, "ferry");
    assertThat(service.getSpec().getSelector()).isNotEmpty();
    assertThat(podLabels).containsAllEntriesOf(service.getSpec().getSelector());
    PodDisruptionBudget pdb = k8s.one(PodDisruptionBudget.class, "ferry");
    assertThat(podLabels).containsAllEntriesOf(pdb.getSpec().getSelector().getMatchLabels());
    // A ServiceMonitor selects Services, not pods.
    Map<String, Object> monitor = k8s.custom("ServiceMonitor", "ferry").get("spec");
    @SuppressWarnings("unchecked")
    Map<String, String> monitorSelector = (Map<String, String>) ((Map<?, ?>) monitor.get("selector")).get("matchLabels");
    assertThat(service.getMetadata().getLabels()).containsAllEntriesOf(monitorSelector);
    HorizontalPodAutoscaler hpa = k8s.one(HorizontalPodAutoscaler.class, "ferry");
    assertThat(hpa.getSpec().getScaleTargetRef().getKind()).isEqualTo("Deployment");
    assertThat(hpa.getSpec().getScaleTargetRef().getName()).isEqualTo(deployment.getMetadata().getName());
    assertThat(hpa.getSpec().getMetrics()).anySatisfy(m -> {
      assertThat(m.getResource().getName()).isEqualTo("cpu");
      assertThat(m.getResource().getTarget().getType()).isEqualTo("Utilization");
    });
    assertThat(hpa.getSpec().getMinReplicas()).isGreaterThanOrEqualTo(2);
  }

  @Test
  void containerPortsAreFerrysListenAndAdminPortsAndEveryReferencedPortNameExists() {
    FerryOptions options = podOptions();
    Map<String, Integer> ports = ferry.getPorts().stream()
      .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
    assertThat(ports).containsExactlyInAnyOrderEntriesOf(Map.of("proxy", options.routes().get(0).listen().port(),
      "admin", options.admin().port()));
    Service service = k8s.one(Service.class, "ferry");
    for (ServicePort sp : service.getSpec().getPorts()) {
      assertThat(ports).as("Service port %s targets a container port", sp.getName())
        .containsKey(sp.getTargetPort().getStrVal());
    }
    assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).contains("proxy", "admin");
    List<?> endpoints = (List<?>) ((Map<?, ?>) k8s.custom("ServiceMonitor", "ferry").get("spec")).get("endpoints");
    assertThat(endpoints).isNotEmpty().allSatisfy(e -> {
      Map<?, ?> endpoint = (Map<?, ?>) e;
      assertThat(service.getSpec().getPorts()).extracting(ServicePort::getName).contains((String) endpoint.get("port"));
      assertThat(endpoint.get("port")).isEqualTo("admin");
      assertThat(endpoint.get("path")).isEqualTo("/metrics");
    });
    Map<String, String> scrape = deployment.getSpec().getTemplate().getMetadata().getAnnotations();
    assertThat(scrape).containsEntry("prometheus.io/port", String.valueOf(options.admin().port()))
      .containsEntry("prometheus.io/path", "/metrics");
  }

  @Test
  void probesUseTheAdminPortAndPathsThatARunningFerryAnswers() throws Exception {
    Probe live = ferry.getLivenessProbe();
    Probe ready = ferry.getReadinessProbe();
    assertThat(live.getHttpGet().getPath()).isEqualTo("/health/live");
    assertThat(ready.getHttpGet().getPath()).isEqualTo("/health/ready");
    for (HTTPGetAction get : List.of(live.getHttpGet(), ready.getHttpGet())) {
      assertThat(get.getPort().getStrVal()).isEqualTo("admin");
    }
    try (FerryHarness h = FerryHarness.start(FerryHarness.options())) {
      for (HTTPGetAction get : List.of(live.getHttpGet(), ready.getHttpGet())) {
        HttpResponse<String> r = h.admin("GET", get.getPath());
        assertThat(r.statusCode()).as("GET %s on a running Ferry", get.getPath()).isEqualTo(200);
      }
      h.assertReleasedCleanly();
    }
  }

  @Test
  void configMapIsMountedAsADirectoryAtThePathGivenToConfig() {
    assertThat(ferry.getArgs()).hasSize(2).startsWith("--config");
    Path configPath = Path.of(ferry.getArgs().get(1));
    VolumeMount mount = ferry.getVolumeMounts().stream()
      .filter(m -> configPath.getParent().equals(Path.of(m.getMountPath()))).findFirst()
      .orElseThrow(() -> new AssertionError("no volume mounted at " + configPath.getParent()));
    assertThat(mount.getSubPath()).as("subPath mounts never see ConfigMap updates").isNullOrEmpty();
    assertThat(mount.getReadOnly()).isTrue();
    Volume volume = pod.getVolumes().stream().filter(v -> v.getName().equals(mount.getName())).findFirst().orElseThrow();
    ConfigMap cm = k8s.one(ConfigMap.class, volume.getConfigMap().getName());
    assertThat(volume.getConfigMap().getItems()).isNullOrEmpty();
    assertThat(cm.getData()).containsKey(configPath.getFileName().toString());
    // Stable name: an edit updates the mounted file in place (reload) instead of rolling the Deployment.
    assertThat(((Map<?, ?>) k8s.kustomization.get("generatorOptions")).get("disableNameSuffixHash")).isEqualTo(true);
  }

  @Test
  void k8sFerryYamlIsConfFerryYamlExceptTheDocumentedOverrides() {
    Map<String, Object> conf = Manifests.yamlMap(Path.of("conf/ferry.yaml"));
    String k8sText = Manifests.read(Manifests.K8S.resolve("ferry.yaml"));
    Map<String, Object> k8sConf = Manifests.yamlMap(k8sText);
    Map<String, Object> overrides = new LinkedHashMap<>();
    overrides.put("upstreams", List.of("backend:8080"));
    overrides.put("echo.enabled", false);
    assertThat(differences("", conf, k8sConf)).isEqualTo(overrides);
    for (String key : overrides.keySet()) {
      assertThat(k8sText).as("k8s/ferry.yaml documents its override of %s", key).containsPattern("#\\s+" + Pattern.quote(key) + "\\s");
    }
    // Upstreams come from the file (reloadable), never from an env variable that would win over it.
    assertThat(ferry.getEnv()).extracting(EnvVar::getName).doesNotContain("FERRY_UPSTREAMS");
  }

  @Test
  void gracePeriodExceedsPreStopPlusDrainPlusFlushTimeoutsFromTheConfigMap() {
    FerryOptions options = podOptions();
    List<String> preStop = ferry.getLifecycle().getPreStop().getExec().getCommand();
    assertThat(preStop).hasSize(2).startsWith("sleep");
    long preStopSeconds = Long.parseLong(preStop.get(1));
    assertThat(preStopSeconds).isBetween(1L, 15L);
    Duration flush = options.routes().get(0).close().flushTimeout();
    Duration needed = Duration.ofSeconds(preStopSeconds).plus(options.drainTimeout()).plus(flush);
    assertThat(Duration.ofSeconds(pod.getTerminationGracePeriodSeconds())).isGreaterThan(needed);
    assertThat(options.drainTimeout()).isEqualTo(Duration.ofSeconds(20));
    assertThat(flush).isEqualTo(Duration.ofSeconds(5));
  }

  @Test
  void envVariablesAreOnesFerryReadsAndInstancesFollowTheCpuRequest() {
    for (EnvVar e : ferry.getEnv()) {
      if (e.getName().startsWith("FERRY_")) {
        assertThat(EnvOverrides.VARIABLES).as("Ferry reads %s", e.getName()).containsKey(e.getName());
      }
    }
    EnvVar instances = ferry.getEnv().stream().filter(e -> e.getName().equals("FERRY_INSTANCES")).findFirst().orElseThrow();
    var ref = instances.getValueFrom().getResourceFieldRef();
    assertThat(ref.getResource()).isEqualTo("requests.cpu");
    assertThat(ref.getContainerName()).isEqualTo("ferry");
    assertThat(ref.getDivisor()).isEqualTo(new Quantity("1"));
    Quantity cpu = ferry.getResources().getRequests().get("cpu");
    assertThat(cpu.getNumericalAmount().intValueExact()).isEqualTo(podOptions().instances()).isPositive();
    String jvm = ferry.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).findFirst()
      .orElseThrow().getValue();
    assertThat(jvm).contains("-XX:MaxRAMPercentage=").contains("-XX:MaxDirectMemorySize=")
      // The collector is chosen, not left to ergonomics (which switch to G1 at 2 CPUs): docs/benchmarks.md.
      .contains("-XX:+UseSerialGC");
    assertThat(ferry.getResources().getLimits()).containsKey("memory");
    assertThat(pod.getEnableServiceLinks()).isFalse();
  }

  @Test
  void theAdminTokenComesFromAnOptionalSecretThatTheReadmeShowsHowToCreate() {
    EnvVar token = ferry.getEnv().stream().filter(e -> e.getName().equals("FERRY_ADMIN_TOKEN")).findFirst()
      .orElseThrow(() -> new AssertionError("no FERRY_ADMIN_TOKEN: admin mutations could never be enabled"));
    assertThat(EnvOverrides.VARIABLES).containsEntry("FERRY_ADMIN_TOKEN", "admin.token");
    assertThat(token.getValue()).as("a token never sits in the manifest itself").isNull();
    var ref = token.getValueFrom().getSecretKeyRef();
    assertThat(ref).as("FERRY_ADMIN_TOKEN from a secretKeyRef").isNotNull();
    // Optional: a cluster without the Secret still runs Ferry, with admin mutations refused (403).
    assertThat(ref.getOptional()).isTrue();
    assertThat(k8s.objects).as("the Secret is the operator's, never in the kustomization")
      .noneMatch(o -> o.getKind().equals("Secret"));
    String readme = Manifests.read(Manifests.K8S.resolve("README.md"));
    assertThat(readme).contains("kubectl create secret generic " + ref.getName() + " --from-literal="
      + ref.getKey() + "=");
    // Without the Secret, the pod runs with no token: the ConfigMap's file sets none either.
    assertThat(podOptions().admin().token()).isNull();
  }

  @Test
  void podRunsAsNonRootWithAReadOnlyRootAndNoCapabilities() {
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getRunAsUser()).isPositive();
    var sc = ferry.getSecurityContext();
    assertThat(sc.getReadOnlyRootFilesystem()).isTrue();
    assertThat(sc.getAllowPrivilegeEscalation()).isFalse();
    assertThat(sc.getCapabilities().getDrop()).containsExactly("ALL");
    // Netty unpacks its native transport into java.io.tmpdir: /tmp must stay writable.
    VolumeMount tmp = ferry.getVolumeMounts().stream().filter(m -> m.getMountPath().equals("/tmp")).findFirst().orElseThrow();
    assertThat(pod.getVolumes().stream().filter(v -> v.getName().equals(tmp.getName())).findFirst().orElseThrow()
      .getEmptyDir()).isNotNull();
  }

  @Test
  void everyAlertHasASummaryADescriptionAndARunbookSectionThatExists() {
    String runbook = Manifests.read(Path.of("docs/runbook.md"));
    Set<String> anchors = Pattern.compile("(?m)^## (.+)$").matcher(runbook).results()
      .map(m -> m.group(1).trim().toLowerCase().replaceAll("[^a-z0-9 -]", "").replace(' ', '-'))
      .collect(Collectors.toSet());
    List<Map<?, ?>> alerts = Rules.alerts(Rules.groups(k8s));
    assertThat(alerts).extracting(a -> (String) a.get("alert")).contains("FerryLeakDetected", "FerryDoubleFreeDetected",
      "FerryConnectionsStuckClosing", "FerryUpstreamConnectFailures", "FerryTargetDown");
    for (Map<?, ?> alert : alerts) {
      @SuppressWarnings("unchecked")
      Map<String, Object> annotations = (Map<String, Object>) alert.get("annotations");
      assertThat(annotations).as("annotations of %s", alert.get("alert")).containsKeys("summary", "description", "runbook_url");
      Matcher url = Pattern.compile("docs/runbook\\.md#([a-z0-9-]+)$").matcher((String) annotations.get("runbook_url"));
      assertThat(url.find()).as("runbook_url of %s", alert.get("alert")).isTrue();
      assertThat(url.group(1)).isEqualTo(((String) alert.get("alert")).toLowerCase());
      assertThat(anchors).as("sections of docs/runbook.md").contains(url.group(1));
      assertThat(((Map<?, ?>) alert.get("labels")).get("severity")).isIn("critical", "warning");
    }
  }

  @Test
  void dashboardConfigMapCarriesTheSidecarLabelAndTheImportableDashboard() {
    ConfigMap cm = k8s.one(ConfigMap.class, "ferry-dashboard");
    assertThat(cm.getMetadata().getLabels()).containsEntry("grafana_dashboard", "1");
    String json = cm.getData().get("ferry-dashboard.json");
    JsonObject dashboard = new JsonObject(json);
    assertThat(dashboard.getString("title")).isNotBlank();
    assertThat(dashboard.getString("uid")).isNotBlank();
    JsonArray panels = dashboard.getJsonArray("panels");
    assertThat(panels).isNotEmpty();
    assertThat(Files.exists(Path.of("k8s/grafana/ferry-dashboard.json"))).isTrue();
  }

  /** The options a pod of the Deployment would run with: the ConfigMap's file plus the container's env. */
  private static FerryOptions podOptions() {
    Map<String, String> env = new HashMap<>();
    for (EnvVar e : ferry.getEnv()) {
      if (e.getValue() != null) {
        env.put(e.getName(), e.getValue());
      } else if (e.getValueFrom() != null && e.getValueFrom().getResourceFieldRef() != null) {
        var ref = e.getValueFrom().getResourceFieldRef();
        Quantity q = ferry.getResources().getRequests().get(ref.getResource().substring("requests.".length()));
        // The kubelet rounds a resourceFieldRef up to a whole number of divisors.
        env.put(e.getName(), q.getNumericalAmount().divide(ref.getDivisor().getNumericalAmount())
          .setScale(0, java.math.RoundingMode.CEILING).toPlainString());
      }
    }
    return ConfigLoader.loadBlocking(Manifests.K8S.resolve("ferry.yaml").toString(), env);
  }

  /** Leaf paths whose values differ, with the value on the right-hand side. */
  private static Map<String, Object> differences(String prefix, Map<?, ?> a, Map<?, ?> b) {
    Map<String, Object> out = new LinkedHashMap<>();
    Set<Object> keys = new java.util.LinkedHashSet<>(a.keySet());
    keys.addAll(b.keySet());
    for (Object key : keys) {
      Object x = a.get(key);
      Object y = b.get(key);
      if (x instanceof Map<?, ?> mx && y instanceof Map<?, ?> my) {
        out.putAll(differences(prefix + key + ".", mx, my));
      } else if (!java.util.Objects.equals(x, y)) {
        out.put(prefix + key, y);
      }
    }
    return out;
  }
}
