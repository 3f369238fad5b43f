package dev.ferry.k8s;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What {@link PodmanPodTest} plays is k8s/ with only the changes k8s/image/README.md lists, whichever way it was
 * rendered, and the YAML handed to podman carries every field (no quiet drop in serialisation). Needs no podman.
 */
class PodManifestTest {

  private static final KubernetesSerialization SERIALIZATION = new KubernetesSerialization();
  private static final Map<String, Integer> PORTS = Map.of("proxy", 17000, "admin", 19900);

  @Test
  void thePlayedObjectsDifferFromK8sOnlyInTheListedFields() {
    PodManifest.Source source = PodManifest.modelled();
    PodManifest played = PodManifest.change(source, "abc123", "localhost/ferry:podtest", "10.0.2.2:4242", PORTS);

    assertThat(played.podName()).isEqualTo("ferry-podtest-abc123-pod-0");
    assertThat(played.containerName()).isEqualTo("ferry-podtest-abc123-pod-0-ferry");
    assertThat(played.configMapName()).isEqualTo("ferry-config-podtest-abc123");
    assertThat(played.configMap.getData().get("ferry.yaml")).contains("upstreams: [\"10.0.2.2:4242\"]")
      .doesNotContain("upstreams: [\"backend:8080\"]");

    // Undo exactly the listed changes: what remains must be k8s/ as written.
    Deployment undone = SERIALIZATION.clone(played.deployment);
    Deployment original = source.deployment();
    undone.getMetadata().setName(original.getMetadata().getName());
    undone.getSpec().setReplicas(original.getSpec().getReplicas());
    Container c = undone.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(c.getImage()).isEqualTo("localhost/ferry:podtest");
    c.setImage(original.getSpec().getTemplate().getSpec().getContainers().get(0).getImage());
    for (ContainerPort p : c.getPorts()) {
      assertThat(p.getHostIP()).isEqualTo("127.0.0.1");
      assertThat(p.getHostPort()).isEqualTo(PORTS.get(p.getName()));
      p.setHostIP(null);
      p.setHostPort(null);
    }
    undone.getSpec().getTemplate().getSpec().getVolumes().stream().filter(v -> v.getConfigMap() != null)
      .forEach(v -> v.getConfigMap().setName(source.configMap().getMetadata().getName()));
    assertThat(undone).isEqualTo(original);
    assertThat(played.original).isEqualTo(original);

    ConfigMap cm = SERIALIZATION.clone(played.configMap);
    cm.getMetadata().setName(source.configMap().getMetadata().getName());
    cm.getData().put("ferry.yaml", PodManifest.withUpstream(cm.getData().get("ferry.yaml"), "backend:8080"));
    assertThat(cm).isEqualTo(source.configMap());
  }

  @Test
  void theYamlForPodmanParsesBackToTheSameObjects() {
    PodManifest played = PodManifest.change(PodManifest.modelled(), "abc123", "localhost/ferry:podtest",
      "10.0.2.2:4242", PORTS);
    String[] docs = played.yaml().split("\n---\n");
    assertThat(docs).hasSize(2);
    assertThat(SERIALIZATION.unmarshal(docs[0], ConfigMap.class)).isEqualTo(played.configMap);
    assertThat(SERIALIZATION.unmarshal(docs[1], Deployment.class)).isEqualTo(played.deployment);
  }

  @Test
  void kubectlKustomizeAndTheModelGiveTheSameDeploymentAndConfigData() {
    Path kubectl = Tools.kubectl();
    Assumptions.assumeTrue(kubectl != null, "kubectl not on PATH");
    PodManifest.Source rendered = PodManifest.kustomized(kubectl);
    PodManifest.Source model = PodManifest.modelled();
    assertThat(rendered.deployment()).isEqualTo(model.deployment());
    assertThat(rendered.configMap().getData()).isEqualTo(model.configMap().getData());
  }
}
