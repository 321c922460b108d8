//! Application profiles: the writable paths of popular images, as data, in
//! this one place. Each profile is a `containerWritablePaths` rule that
//! ships with the policy (`applicationProfiles` in the settings): the
//! repositories of an image (any tag or digest, after normalization) and the
//! paths it must write to start and serve with a read-only root. Paths the
//! image declares as `VOLUME` are left out: containerd and CRI-O already
//! give those a writable volume. Every path carries its public source (the
//! image's own documentation, Dockerfile or entrypoint, or a chart or
//! operator by its maintainers that runs it read-only); a unit test fails
//! when one has none, and `readonly-rootfs profiles` prints them.

/// A built-in profile.
#[derive(Debug, PartialEq, Eq)]
pub struct ApplicationProfile {
    /// The name users write in `applicationProfiles`.
    pub name: &'static str,
    /// Image patterns of the repositories (normalized, every tag).
    pub repositories: &'static [&'static str],
    /// Absolute, normalised, unique: the paths the image writes.
    pub paths: &'static [&'static str],
}

/// A path a profile requires: what the image writes there, and a public
/// URL that shows it.
#[derive(Debug, PartialEq, Eq)]
pub struct PathSource {
    pub profile: &'static str,
    pub path: &'static str,
    pub reason: &'static str,
    pub source: &'static str,
}

impl ApplicationProfile {
    /// The sources of this profile's paths, in path order.
    pub fn sources(&self) -> impl Iterator<Item = &'static PathSource> {
        self.paths.iter().filter_map(move |path| {
            PROFILE_PATH_SOURCES
                .iter()
                .find(|s| s.profile == self.name && s.path == *path)
        })
    }
}

pub const APPLICATION_PROFILES: &[ApplicationProfile] = &[
    ApplicationProfile {
        name: "nginx",
        repositories: &["docker.io/library/nginx"],
        paths: &["/var/cache/nginx", "/var/run"],
    },
    ApplicationProfile {
        name: "nginx-unprivileged",
        repositories: &["docker.io/nginxinc/nginx-unprivileged"],
        paths: &["/tmp"],
    },
    ApplicationProfile {
        name: "postgres",
        repositories: &["docker.io/library/postgres"],
        paths: &["/var/run/postgresql", "/tmp"],
    },
    ApplicationProfile {
        name: "mysql",
        repositories: &["docker.io/library/mysql"],
        paths: &["/var/run/mysqld", "/tmp"],
    },
    ApplicationProfile {
        name: "mariadb",
        repositories: &["docker.io/library/mariadb"],
        paths: &["/run/mysqld", "/tmp"],
    },
    ApplicationProfile {
        name: "mongo",
        repositories: &["docker.io/library/mongo"],
        paths: &["/tmp"],
    },
    ApplicationProfile {
        name: "httpd",
        repositories: &["docker.io/library/httpd"],
        paths: &["/usr/local/apache2/logs"],
    },
    ApplicationProfile {
        name: "tomcat",
        repositories: &["docker.io/library/tomcat"],
        paths: &[
            "/usr/local/tomcat/logs",
            "/usr/local/tomcat/temp",
            "/usr/local/tomcat/work",
        ],
    },
    ApplicationProfile {
        name: "grafana",
        repositories: &["docker.io/grafana/grafana", "docker.io/grafana/grafana-oss"],
        paths: &["/var/lib/grafana", "/tmp"],
    },
    ApplicationProfile {
        name: "traefik",
        repositories: &["docker.io/library/traefik"],
        paths: &["/data", "/tmp", "/plugins-storage"],
    },
    ApplicationProfile {
        name: "jenkins",
        repositories: &["docker.io/jenkins/jenkins"],
        paths: &["/var/jenkins_cache", "/tmp"],
    },
    ApplicationProfile {
        name: "wordpress",
        repositories: &["docker.io/library/wordpress"],
        paths: &["/run", "/tmp"],
    },
];

/// Why each profile path is there, and the public source that shows it:
/// one entry per path of [`APPLICATION_PROFILES`] (a unit test checks that
/// they correspond). Kept apart from the profiles because only
/// `readonly-rootfs profiles`, the README and the tests read it: the wasm
/// module does not carry it.
pub const PROFILE_PATH_SOURCES: &[PathSource] = &[
    PathSource {
        profile: "nginx",
        path: "/var/cache/nginx",
        reason: "the temp paths (client_body_temp, proxy_temp, ...) are compiled in under it; nginx creates them at start",
        source: "https://github.com/docker-library/docs/blob/01285481cd08b3bcbf8cf61f2a5ccc3d2ef312b4/nginx/content.md",
    },
    PathSource {
        profile: "nginx",
        path: "/var/run",
        reason: "nginx.conf sets pid /var/run/nginx.pid",
        source: "https://github.com/docker-library/docs/blob/01285481cd08b3bcbf8cf61f2a5ccc3d2ef312b4/nginx/content.md",
    },
    PathSource {
        profile: "nginx-unprivileged",
        path: "/tmp",
        reason: "the image moves the pid file and all five temp paths of nginx.conf to /tmp",
        source: "https://github.com/nginxinc/docker-nginx-unprivileged/blob/015ce722a117229a49910a394abeb6563e85018e/mainline/debian/Dockerfile",
    },
    PathSource {
        profile: "postgres",
        path: "/var/run/postgresql",
        reason: "the unix socket and its lock file",
        source: "https://github.com/docker-library/postgres/blob/2925b19f45ceeb8ab8488eec226f2736abf297e1/17/bookworm/docker-entrypoint.sh",
    },
    PathSource {
        profile: "postgres",
        path: "/tmp",
        reason: "the entrypoint feeds SQL to psql through bash here-documents, which bash writes to /tmp",
        source: "https://github.com/docker-library/postgres/issues/154",
    },
    PathSource {
        profile: "mysql",
        path: "/var/run/mysqld",
        reason: "the socket and lock files (the Dockerfile makes it world-writable for them)",
        source: "https://github.com/docker-library/mysql/blob/3447d2db9bc3084a226381b97ea852f8f9d96406/8.4/Dockerfile.oracle",
    },
    PathSource {
        profile: "mysql",
        path: "/tmp",
        reason: "mysqld's tmpdir defaults to /tmp (filesort, temporary tables); the image sets no other",
        source: "https://dev.mysql.com/doc/mysql/en/temporary-files.html",
    },
    PathSource {
        profile: "mariadb",
        path: "/run/mysqld",
        reason: "the socket and lock files (the Dockerfile makes it world-writable for them)",
        source: "https://github.com/MariaDB/mariadb-docker/blob/0c710468e3fb2ccec6cdc14350ee0f1eaf668307/11.4/Dockerfile",
    },
    PathSource {
        profile: "mariadb",
        path: "/tmp",
        reason: "mariadbd's tmpdir defaults to /tmp; the image sets no other",
        source: "https://mariadb.com/docs/server/server-management/install-and-upgrade-mariadb/configuring-mariadb/mariadb-environment-variables",
    },
    PathSource {
        profile: "mongo",
        path: "/tmp",
        reason: "the entrypoint writes its config and pid files to $TMPDIR (/tmp); mongod creates its unix socket there",
        source: "https://github.com/docker-library/mongo/blob/c94b70a081cea77e2364908fbf994c4b7a3cc5a5/7.0/docker-entrypoint.sh",
    },
    PathSource {
        profile: "httpd",
        path: "/usr/local/apache2/logs",
        reason: "the pid file (logs/httpd.pid) and the default runtime directory",
        source: "https://github.com/docker-library/httpd/blob/e927bc677ef50b1f63cab483287d5560aa5dd9fe/2.4/alpine/httpd-foreground",
    },
    PathSource {
        profile: "tomcat",
        path: "/usr/local/tomcat/logs",
        reason: "the log files (the Dockerfile makes logs, temp and work world-writable)",
        source: "https://github.com/docker-library/tomcat/blob/065b183fdf5b4ab6f4450e73db6b52d4237f212a/10.1/jdk17/temurin-jammy/Dockerfile",
    },
    PathSource {
        profile: "tomcat",
        path: "/usr/local/tomcat/temp",
        reason: "java.io.tmpdir (CATALINA_TMPDIR)",
        source: "https://github.com/docker-library/tomcat/blob/065b183fdf5b4ab6f4450e73db6b52d4237f212a/10.1/jdk17/temurin-jammy/Dockerfile",
    },
    PathSource {
        profile: "tomcat",
        path: "/usr/local/tomcat/work",
        reason: "compiled JSPs and persisted sessions",
        source: "https://github.com/docker-library/tomcat/blob/065b183fdf5b4ab6f4450e73db6b52d4237f212a/10.1/jdk17/temurin-jammy/Dockerfile",
    },
    PathSource {
        profile: "grafana",
        path: "/var/lib/grafana",
        reason: "GF_PATHS_DATA: the SQLite database, sessions and plugins (kube-prometheus mounts an emptyDir)",
        source: "https://github.com/prometheus-operator/kube-prometheus/blob/017b2aa032a58d173815b80cf4c7858dc14c058e/manifests/grafana-deployment.yaml",
    },
    PathSource {
        profile: "grafana",
        path: "/tmp",
        reason: "plugin downloads and backend plugin sockets (kube-prometheus mounts an emptyDir)",
        source: "https://github.com/prometheus-operator/kube-prometheus/blob/017b2aa032a58d173815b80cf4c7858dc14c058e/manifests/grafana-deployment.yaml",
    },
    PathSource {
        profile: "traefik",
        path: "/data",
        reason: "ACME certificate storage (the official chart mounts a volume here)",
        source: "https://github.com/traefik/traefik-helm-chart/blob/00374755f4dc43501d59974079a9f0db49af1f85/traefik/templates/_podtemplate.tpl",
    },
    PathSource {
        profile: "traefik",
        path: "/tmp",
        reason: "request bodies buffered to disk (the official chart mounts an emptyDir)",
        source: "https://github.com/traefik/traefik-helm-chart/blob/00374755f4dc43501d59974079a9f0db49af1f85/traefik/templates/_podtemplate.tpl",
    },
    PathSource {
        profile: "traefik",
        path: "/plugins-storage",
        reason: "plugin downloads, at a fixed relative path from / (the official chart mounts an emptyDir)",
        source: "https://github.com/traefik/traefik-helm-chart/blob/00374755f4dc43501d59974079a9f0db49af1f85/traefik/templates/_podtemplate.tpl",
    },
    PathSource {
        profile: "jenkins",
        path: "/var/jenkins_cache",
        reason: "the official chart explodes jenkins.war here (--webroot)",
        source: "https://github.com/jenkinsci/helm-charts/blob/b6f254a016c308a102e39cd6ff7bc767a070e772/charts/jenkins/templates/jenkins-controller-statefulset.yaml",
    },
    PathSource {
        profile: "jenkins",
        path: "/tmp",
        reason: "java.io.tmpdir (the official chart mounts an emptyDir)",
        source: "https://github.com/jenkinsci/helm-charts/blob/b6f254a016c308a102e39cd6ff7bc767a070e772/charts/jenkins/templates/jenkins-controller-statefulset.yaml",
    },
    PathSource {
        profile: "wordpress",
        path: "/run",
        reason: "Apache's pid file and lock directory (/var/run and /var/lock link to /run)",
        source: "https://github.com/docker-library/docs/blob/master/wordpress/content.md",
    },
    PathSource {
        profile: "wordpress",
        path: "/tmp",
        reason: "PHP uploads and sessions",
        source: "https://github.com/docker-library/docs/blob/master/wordpress/content.md",
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::selector::ImagePattern;

    #[test]
    fn every_profile_path_has_a_public_source() {
        for profile in APPLICATION_PROFILES {
            assert!(!profile.paths.is_empty(), "{}", profile.name);
            for path in profile.paths {
                let sources: Vec<&PathSource> = PROFILE_PATH_SOURCES
                    .iter()
                    .filter(|s| s.profile == profile.name && s.path == *path)
                    .collect();
                assert_eq!(
                    sources.len(),
                    1,
                    "profile {} path {path} needs exactly one source",
                    profile.name
                );
                assert!(
                    sources[0].source.starts_with("https://") && !sources[0].reason.is_empty(),
                    "profile {} path {path} has no public source",
                    profile.name
                );
            }
            assert_eq!(profile.sources().count(), profile.paths.len());
        }
        // No source for a path that is not in its profile.
        for source in PROFILE_PATH_SOURCES {
            assert!(
                APPLICATION_PROFILES
                    .iter()
                    .any(|p| p.name == source.profile && p.paths.contains(&source.path)),
                "{} {} is not a profile path",
                source.profile,
                source.path
            );
        }
    }

    #[test]
    fn profiles_are_well_formed() {
        for (i, profile) in APPLICATION_PROFILES.iter().enumerate() {
            assert!(
                APPLICATION_PROFILES[..i]
                    .iter()
                    .all(|p| p.name != profile.name),
                "{} is listed twice",
                profile.name
            );
            assert!(!profile.repositories.is_empty(), "{}", profile.name);
            for repository in profile.repositories {
                // Written normalized (registry/path, no tag or digest), so the
                // built-in pattern, read without parsing, matches exactly as
                // the parsed one does.
                let reference = crate::image::parse(repository)
                    .unwrap_or_else(|e| panic!("{}: {e}", profile.name));
                assert_eq!(reference.repository(), *repository);
                assert!(reference.tag().is_none() && reference.digest().is_none());
                let parsed = ImagePattern::parse(repository).unwrap();
                let built_in = ImagePattern::built_in_repository(repository);
                assert_eq!(built_in.written(), *repository);
                let short = repository.trim_start_matches("docker.io/");
                let short = short.trim_start_matches("library/");
                for image in [
                    format!("{repository}:1.0"),
                    format!("{short}:1.0"),
                    format!("{short}@sha256:{}", "a".repeat(64)),
                    format!("{repository}x:1.0"),
                    format!("registry.example.com/{short}:1.0"),
                    "Invalid:1".to_string(),
                ] {
                    let image = crate::selector::ContainerImage::new(Some(&image));
                    assert_eq!(built_in.matches(&image), parsed.matches(&image));
                }
            }
            // Each path as requiredWritablePaths would accept it, once.
            let settings = crate::settings::Settings::from_json(
                &serde_json::json!({"requiredWritablePaths": profile.paths}),
            )
            .unwrap_or_else(|e| panic!("{}: {e}", profile.name));
            assert_eq!(settings.required_writable_paths, profile.paths);
        }
    }
}
