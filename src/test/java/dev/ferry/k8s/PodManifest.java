package dev.ferry.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.DumperOptions;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;
import org.yaml.snakeyaml.representer.Representer;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Deployment and its ConfigMap from k8s/, as {@code podman kube play} gets them: rendered by
 * {@code kubectl kustomize k8s} where kubectl exists, else from the {@link Manifests} model (the same objects, which
 * KustomizeRenderTest checks), then changed only as listed in k8s/image/README.md ("What the test changes"):
 * image, replicas, host ports, the upstream list, and names made unique to the run. Everything else (security
 * context, env, resources, volumes, probes, lifecycle) is played as written.
 */
final class PodManifest {

  private static final Logger log = LoggerFactory.getLogger(PodManifest.class);
  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
  private static final Pattern UPSTREAMS = Pattern.compile("(?m)^upstreams: \\[[^\\]]*\\]");

  /** The Deployment as k8s/ defines it (before any change), for the values the assertions compare with. */
  final Deployment original;
  final Deployment deployment;
  final ConfigMap configMap;
  final String source;

  private PodManifest(Deployment original, Deployment deployment, ConfigMap configMap, String source) {
    this.original = original;
    this.deployment = deployment;
    this.configMap = configMap;
    this.source = source;
  }

  /**
   * k8s/ rendered and changed for one podman run.
   *
   * @param runId       suffix of the Deployment and ConfigMap names, so a run removes exactly what it made
   * @param image       the image built from k8s/Dockerfile, in local storage
   * @param upstream    the ConfigMap's upstream list entry ({@code host:port})
   * @param hostPorts   container port name to a free loopback port on the host
   */
  static PodManifest render(String runId, String image, String upstream, Map<String, Integer> hostPorts) {
    Path kubectl = Tools.kubectl();
    return change(kubectl != null ? kustomized(kubectl) : modelled(), runId, image, upstream, hostPorts);
  }

  /** The Deployment and ConfigMap before any change, and where they came from. */
  record Source(Deployment deployment, ConfigMap configMap, String name) {
  }

  static Source kustomized(Path kubectl) {
    Tools.Result r = Tools.run(List.of(kubectl.toString(), "kustomize", Manifests.K8S.toString()), null,
      Duration.ofSeconds(60));
    if (r.exit() != 0) {
      throw new AssertionError("kubectl kustomize k8s:\n" + r.output());
    }
    return new Source(SERIALIZATION.unmarshal(document(r.output(), "Deployment", "ferry"), Deployment.class),
      SERIALIZATION.unmarshal(document(r.output(), "ConfigMap", "ferry-config"), ConfigMap.class),
      "kubectl kustomize k8s");
  }

  static Source modelled() {
    Manifests k8s = Manifests.load();
    return new Source(k8s.one(Deployment.class, "ferry"), k8s.one(ConfigMap.class, "ferry-config"),
      "the k8s/ model (no kubectl)");
  }

  static PodManifest change(Source from, String runId, String image, String upstream, Map<String, Integer> hostPorts) {
    Deployment deployment = SERIALIZATION.clone(from.deployment());
    ConfigMap configMap = SERIALIZATION.clone(from.configMap());
    String source = from.name();
    Deployment original = SERIALIZATION.clone(from.deployment());
    String configName = configMap.getMetadata().getName() + "-podtest-" + runId;

    deployment.getMetadata().setName(deployment.getMetadata().getName() + "-podtest-" + runId);
    // podman plays each replica as its own pod with the same host ports: on one host only one could bind them.
    deployment.getSpec().setReplicas(1);
    Container ferry = deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
    ferry.setImage(image);
    // No Service in podman: the container ports are published on the host's loopback instead.
    for (ContainerPort port : ferry.getPorts()) {
      Integer hostPort = hostPorts.get(port.getName());
      if (hostPort == null) {
        throw new AssertionError("no host port for container port " + port.getName());
      }
      port.setHostIP("127.0.0.1");
      port.setHostPort(hostPort);
    }
    Volume config = deployment.getSpec().getTemplate().getSpec().getVolumes().stream()
      .filter(v -> v.getConfigMap() != null && configMap.getMetadata().getName().equals(v.getConfigMap().getName()))
      .findFirst().orElseThrow(() -> new AssertionError("no volume of ConfigMap " + configMap.getMetadata().getName()));
    config.getConfigMap().setName(configName);

    configMap.getMetadata().setName(configName);
    configMap.getData().put("ferry.yaml", withUpstream(configMap.getData().get("ferry.yaml"), upstream));
    log.info("conn=- podman pod manifest from {}: Deployment {}, ConfigMap {}", source,
      deployment.getMetadata().getName(), configName);
    return new PodManifest(original, deployment, configMap, source);
  }

  /** The ferry.yaml text with its one {@code upstreams:} line set to {@code [upstream]}; the rest byte for byte. */
  static String withUpstream(String ferryYaml, String upstream) {
    Matcher m = UPSTREAMS.matcher(ferryYaml);
    if (!m.find()) {
      throw new AssertionError("no 'upstreams: [...]' line in k8s/ferry.yaml");
    }
    String replaced = m.replaceFirst(Matcher.quoteReplacement("upstreams: [\"" + upstream + "\"]"));
    if (UPSTREAMS.matcher(replaced).results().count() != 1) {
      throw new AssertionError("more than one 'upstreams:' line in k8s/ferry.yaml");
    }
    return replaced;
  }

  /** The YAML that {@code podman kube play} reads: the ConfigMap, then the Deployment. */
  String yaml() {
    return SERIALIZATION.asYaml(configMap) + "\n---\n" + SERIALIZATION.asYaml(deployment);
  }

  Container container() {
    return deployment.getSpec().getTemplate().getSpec().getContainers().get(0);
  }

  /** podman names a Deployment's pods {@code <name>-pod-<replica>} and their containers {@code <pod>-<container>}. */
  String podName() {
    return deployment.getMetadata().getName() + "-pod-0";
  }

  String containerName() {
    return podName() + "-" + container().getName();
  }

  String configMapName() {
    return configMap.getMetadata().getName();
  }

  /** One document of a multi-document YAML stream, by kind and name, as YAML text. */
  private static String document(String stream, String kind, String name) {
    Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()), new Representer(new DumperOptions()));
    for (Object doc : yaml.loadAll(stream)) {
      if (doc instanceof Map<?, ?> m && kind.equals(m.get("kind"))
          && name.equals(((Map<?, ?>) m.get("metadata")).get("name"))) {
        return yaml.dump(m);
      }
    }
    throw new AssertionError("kubectl kustomize k8s rendered no " + kind + "/" + name);
  }
}
