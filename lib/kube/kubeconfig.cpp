// kubeconfig loading with client-go's rules: KUBECONFIG files merged so that
// the first file defining a name (or current-context) wins, relative paths
// resolved against the file that holds them, only the selected context's
// cluster and user validated (kubectl does the same, so a broken entry for
// another cluster never blocks this one).
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>

#include "kiln/kube.hpp"
#include "core/base64.hpp"

namespace kiln::kube {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t kMaxKubeconfigBytes = 16u << 20;

// Where a value sits, for messages: file, YAML path and line.
struct Where {
  std::string file;
  std::string path;  // "users[2].user"
  int line = -1;     // 1-based, -1 unknown

  Where child(std::string_view key, const YAML::Node& node) const {
    Where w{file, path.empty() ? std::string(key) : path + "." + std::string(key), line};
    if (node.IsDefined() && node.Mark().line >= 0) w.line = node.Mark().line + 1;
    return w;
  }
  std::string str() const {
    return line > 0 ? fmt::format("kubeconfig {} line {}: {}", file, line, path)
                    : fmt::format("kubeconfig {}: {}", file, path);
  }
};

[[noreturn]] void fail(const Where& where, std::string_view what) {
  throw Error(Errc::invalid_argument, fmt::format("{} {}", where.str(), what));
}

std::string scalar(const YAML::Node& map, const char* key, const Where& parent) {
  auto node = map[key];
  if (!node.IsDefined() || node.IsNull()) return {};
  auto where = parent.child(key, node);
  if (!node.IsScalar()) fail(where, "must be a string");
  return node.Scalar();
}

bool boolean(const YAML::Node& map, const char* key, const Where& parent) {
  auto node = map[key];
  if (!node.IsDefined() || node.IsNull()) return false;
  auto where = parent.child(key, node);
  if (!node.IsScalar()) fail(where, "must be true or false");
  const auto& v = node.Scalar();
  // sigs.k8s.io/yaml (YAML 1.1) accepts these spellings too.
  for (const char* t : {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", "y", "Y"})
    if (v == t) return true;
  for (const char* f : {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", "n", "N"})
    if (v == f) return false;
  fail(where, fmt::format("must be true or false, not \"{}\"", v));
}

std::vector<std::string> string_list(const YAML::Node& map, const char* key, const Where& parent) {
  std::vector<std::string> out;
  auto node = map[key];
  if (!node.IsDefined() || node.IsNull()) return out;
  auto where = parent.child(key, node);
  if (!node.IsSequence()) fail(where, "must be a list of strings");
  for (std::size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) fail(where.child(fmt::format("[{}]", i), node[i]), "must be a string");
    out.push_back(node[i].Scalar());
  }
  return out;
}

std::string decode_data(const YAML::Node& map, const char* key, const Where& parent) {
  auto text = scalar(map, key, parent);
  if (text.empty()) return {};
  auto decoded = core::base64_decode(text);
  if (!decoded) fail(parent.child(key, map[key]), "is not valid base64 (it holds the base64 of a PEM file)");
  if (decoded->find("-----BEGIN") == std::string::npos)
    fail(parent.child(key, map[key]), "does not decode to PEM data (expected \"-----BEGIN ...\")");
  return *decoded;
}

// A path from the kubeconfig: relative ones are relative to the file's directory.
std::string file_path(const YAML::Node& map, const char* key, const Where& parent, bool must_exist) {
  auto text = scalar(map, key, parent);
  if (text.empty()) return {};
  fs::path p(text);
  if (p.is_relative()) p = fs::path(parent.file).parent_path() / p;
  p = p.lexically_normal();
  if (must_exist) {
    std::error_code ec;
    if (!fs::is_regular_file(p, ec))
      fail(parent.child(key, map[key]), fmt::format("names {}, which is not a readable file", p.string()));
  }
  return p.string();
}

struct Named {
  YAML::Node node;  // the inner map ("cluster:", "user:", "context:")
  Where where;
};

struct Merged {
  std::map<std::string, Named> clusters, users, contexts;
  std::string current_context;
  std::vector<std::string> files;  // read, in order
};

void merge_section(const YAML::Node& root, const char* section, const char* inner, const std::string& file,
                   std::map<std::string, Named>& into) {
  auto list = root[section];
  Where top{file, section, -1};
  if (!list.IsDefined() || list.IsNull()) return;
  top = Where{file, "", -1}.child(section, list);
  if (!list.IsSequence()) fail(top, "must be a list of {name, " + std::string(inner) + "} entries");
  for (std::size_t i = 0; i < list.size(); ++i) {
    auto entry = list[i];
    Where where{file, fmt::format("{}[{}]", section, i), entry.Mark().line >= 0 ? entry.Mark().line + 1 : -1};
    if (!entry.IsMap()) fail(where, "must be a map with name and " + std::string(inner));
    auto name = scalar(entry, "name", where);
    if (name.empty()) fail(where, "has no name");
    auto body = entry[inner];
    Where body_where = where.child(inner, body);
    body_where.path = fmt::format("{}[{}] (\"{}\").{}", section, i, name, inner);
    if (body.IsDefined() && !body.IsNull() && !body.IsMap()) fail(body_where, "must be a map");
    into.try_emplace(name, Named{body.IsDefined() && body.IsMap() ? body : YAML::Node(YAML::NodeType::Map), body_where});
  }
}

void merge_text(Merged& merged, std::string_view text, const std::string& file) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_argument, fmt::format("kubeconfig {} line {} column {}: not valid YAML: {}", file,
                                                    e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  merged.files.push_back(file);
  if (!root.IsDefined() || root.IsNull()) return;  // an empty file is an empty config
  if (!root.IsMap()) throw Error(Errc::invalid_argument, fmt::format("kubeconfig {}: the document must be a map (apiVersion, kind, clusters, users, contexts)", file));
  Where top{file, "", -1};
  auto kind = scalar(root, "kind", top);
  if (!kind.empty() && kind != "Config")
    fail(top.child("kind", root["kind"]), fmt::format("is \"{}\"; a kubeconfig has kind Config", kind));
  merge_section(root, "clusters", "cluster", file, merged.clusters);
  merge_section(root, "users", "user", file, merged.users);
  merge_section(root, "contexts", "context", file, merged.contexts);
  auto current = scalar(root, "current-context", top);
  if (merged.current_context.empty()) merged.current_context = current;
}

std::string read_file_capped(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::io, fmt::format("kubeconfig {}: cannot be read", path.string()));
  std::string data;
  char buffer[65536];
  while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
    data.append(buffer, static_cast<std::size_t>(in.gcount()));
    if (data.size() > kMaxKubeconfigBytes)
      throw Error(Errc::too_large, fmt::format("kubeconfig {}: larger than 16 MiB; is this really a kubeconfig?", path.string()));
  }
  return data;
}

InteractiveMode interactive_mode(const std::string& text, const std::string& api_version, const Where& where) {
  if (text == "Never") return InteractiveMode::never;
  if (text == "IfAvailable") return InteractiveMode::if_available;
  if (text == "Always") return InteractiveMode::always;
  if (text.empty()) {
    // client-go defaults it only for v1beta1 and requires it for v1.
    if (api_version == "client.authentication.k8s.io/v1beta1") return InteractiveMode::if_available;
    fail(where, "has no interactiveMode; client.authentication.k8s.io/v1 plugins need one of Never, IfAvailable, Always");
  }
  fail(where, fmt::format("interactiveMode \"{}\" is not one of Never, IfAvailable, Always", text));
}

ExecPlugin parse_exec(const YAML::Node& node, const Where& where) {
  if (!node.IsMap()) fail(where, "must be a map (command, args, env, apiVersion, interactiveMode)");
  ExecPlugin exec;
  exec.api_version = scalar(node, "apiVersion", where);
  if (exec.api_version.empty())
    fail(where, "has no apiVersion (client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1)");
  if (exec.api_version != "client.authentication.k8s.io/v1" && exec.api_version != "client.authentication.k8s.io/v1beta1")
    fail(where.child("apiVersion", node["apiVersion"]),
         fmt::format("\"{}\" is not supported; use client.authentication.k8s.io/v1 or client.authentication.k8s.io/v1beta1",
                     exec.api_version));
  exec.command = scalar(node, "command", where);
  if (exec.command.empty()) fail(where, "has no command");
  if (exec.command.find('/') != std::string::npos && fs::path(exec.command).is_relative())
    exec.command = (fs::path(where.file).parent_path() / exec.command).lexically_normal().string();
  exec.args = string_list(node, "args", where);
  auto env = node["env"];
  if (env.IsDefined() && !env.IsNull()) {
    auto env_where = where.child("env", env);
    if (!env.IsSequence()) fail(env_where, "must be a list of {name, value}");
    for (std::size_t i = 0; i < env.size(); ++i) {
      auto item_where = env_where.child(fmt::format("[{}]", i), env[i]);
      item_where.path = fmt::format("{}[{}]", env_where.path, i);
      if (!env[i].IsMap()) fail(item_where, "must be a map with name and value");
      auto name = scalar(env[i], "name", item_where);
      if (name.empty() || name.find('=') != std::string::npos) fail(item_where, "needs a name without '='");
      exec.env.emplace_back(name, scalar(env[i], "value", item_where));
    }
  }
  exec.interactive_mode = interactive_mode(scalar(node, "interactiveMode", where), exec.api_version, where);
  exec.provide_cluster_info = boolean(node, "provideClusterInfo", where);
  exec.install_hint = scalar(node, "installHint", where);
  return exec;
}

// YAML -> JSON for the exec extension (spec.cluster.config).
boost::json::value to_json(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      boost::json::object o;
      for (const auto& kv : node)
        if (kv.first.IsScalar()) o[kv.first.Scalar()] = to_json(kv.second);
      return o;
    }
    case YAML::NodeType::Sequence: {
      boost::json::array a;
      for (const auto& item : node) a.push_back(to_json(item));
      return a;
    }
    case YAML::NodeType::Scalar: return boost::json::string(node.Scalar());
    default: return nullptr;
  }
}

void apply_cluster(Config& config, const Named& cluster) {
  const auto& n = cluster.node;
  const auto& w = cluster.where;
  config.server = scalar(n, "server", w);
  if (config.server.empty()) fail(w, "has no server (e.g. https://127.0.0.1:6443)");
  if (config.server.rfind("https://", 0) != 0 && config.server.rfind("http://", 0) != 0)
    fail(w.child("server", n["server"]), fmt::format("\"{}\" must start with https:// or http://", config.server));
  while (config.server.size() > 8 && config.server.back() == '/') config.server.pop_back();
  config.ca_data = decode_data(n, "certificate-authority-data", w);
  config.ca_file = file_path(n, "certificate-authority", w, config.ca_data.empty());
  config.insecure_skip_tls_verify = boolean(n, "insecure-skip-tls-verify", w);
  if (config.insecure_skip_tls_verify && (!config.ca_data.empty() || !config.ca_file.empty()))
    fail(w, "sets both insecure-skip-tls-verify and a certificate authority; remove one (kubectl refuses this too)");
  config.tls_server_name = scalar(n, "tls-server-name", w);
  config.proxy_url = scalar(n, "proxy-url", w);
  if (!config.proxy_url.empty()) {
    // kubectl's schemes exactly (it refuses socks5h://; its socks5:// already
    // lets the proxy resolve host names).
    std::string scheme = config.proxy_url.substr(0, config.proxy_url.find("://") + 1);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "http:" && scheme != "https:" && scheme != "socks5:")
      fail(w.child("proxy-url", n["proxy-url"]), "must be an http://, https:// or socks5:// URL (the schemes kubectl accepts)");
  }
}

std::string exec_extension(const Named& cluster) {
  auto extensions = cluster.node["extensions"];
  if (!extensions.IsDefined() || !extensions.IsSequence()) return {};
  for (const auto& ext : extensions) {
    if (ext.IsMap() && ext["name"].IsScalar() && ext["name"].Scalar() == "client.authentication.k8s.io/exec" &&
        ext["extension"].IsDefined())
      return boost::json::serialize(to_json(ext["extension"]));
  }
  return {};
}

void apply_user(Config& config, const Named& user) {
  const auto& n = user.node;
  const auto& w = user.where;
  config.client_cert_data = decode_data(n, "client-certificate-data", w);
  config.client_cert_file = file_path(n, "client-certificate", w, config.client_cert_data.empty());
  config.client_key_data = decode_data(n, "client-key-data", w);
  config.client_key_file = file_path(n, "client-key", w, config.client_key_data.empty());
  bool has_cert = !config.client_cert_data.empty() || !config.client_cert_file.empty();
  bool has_key = !config.client_key_data.empty() || !config.client_key_file.empty();
  if (has_cert != has_key)
    fail(w, has_cert ? "has a client certificate but no client-key or client-key-data"
                     : "has a client key but no client-certificate or client-certificate-data");
  config.token = scalar(n, "token", w);
  config.token_file = file_path(n, "tokenFile", w, config.token.empty());
  config.username = scalar(n, "username", w);
  config.password = scalar(n, "password", w);
  if (!config.password.empty() && config.username.empty()) fail(w, "has a password but no username");
  config.impersonate_user = scalar(n, "as", w);
  config.impersonate_groups = string_list(n, "as-groups", w);
  config.impersonate_uid = scalar(n, "as-uid", w);
  auto provider = n["auth-provider"];
  if (provider.IsDefined() && !provider.IsNull()) {
    std::string name = provider.IsMap() ? scalar(provider, "name", w.child("auth-provider", provider)) : "";
    fail(w.child("auth-provider", provider),
         fmt::format("\"{}\" is a removed in-tree auth provider; use an exec credential plugin instead "
                     "(gke-gcloud-auth-plugin for GKE, kubelogin for Azure/OIDC)",
                     name));
  }
  auto exec = n["exec"];
  if (exec.IsDefined() && !exec.IsNull()) config.exec = parse_exec(exec, w.child("exec", exec));
  bool has_token = !config.token.empty() || !config.token_file.empty();
  bool has_basic = !config.username.empty();
  if (has_token && has_basic) fail(w, "has both a token and username/password; keep one");
}

Config select(const Merged& merged, const LoadOptions& options) {
  auto files = [&] {
    std::string list;
    for (const auto& f : merged.files) list += (list.empty() ? "" : ", ") + f;
    return list.empty() ? std::string("(none)") : list;
  };
  std::string context_name = options.context.empty() ? merged.current_context : options.context;
  if (context_name.empty())
    throw Error(Errc::not_found, fmt::format("kubeconfig {}: no current-context is set and no context was chosen "
                                             "(set current-context or pass a context name)", files()));
  auto ctx = merged.contexts.find(context_name);
  if (ctx == merged.contexts.end()) {
    std::string known;
    for (const auto& [name, _] : merged.contexts) known += (known.empty() ? "" : ", ") + name;
    throw Error(Errc::not_found, fmt::format("kubeconfig {}: context \"{}\" does not exist (contexts: {})", files(),
                                             context_name, known.empty() ? "none" : known));
  }
  Config config;
  config.context = context_name;
  const auto& cn = ctx->second.node;
  const auto& cw = ctx->second.where;
  config.cluster = scalar(cn, "cluster", cw);
  config.user = scalar(cn, "user", cw);
  config.namespace_name = scalar(cn, "namespace", cw);
  if (config.cluster.empty()) fail(cw, "names no cluster");
  auto cluster = merged.clusters.find(config.cluster);
  if (cluster == merged.clusters.end())
    fail(cw, fmt::format("names cluster \"{}\", which no kubeconfig file ({}) defines", config.cluster, files()));
  apply_cluster(config, cluster->second);
  if (!config.user.empty()) {
    auto user = merged.users.find(config.user);
    if (user == merged.users.end())
      fail(cw, fmt::format("names user \"{}\", which no kubeconfig file ({}) defines", config.user, files()));
    apply_user(config, user->second);
    if (config.exec) config.exec->cluster_config_json = exec_extension(cluster->second);
  }
  if (!options.namespace_name.empty()) config.namespace_name = options.namespace_name;
  if (config.namespace_name.empty()) config.namespace_name = "default";
  config.origin = fmt::format("kubeconfig {} (context {})", ctx->second.where.file, context_name);
  return config;
}

std::vector<fs::path> kubeconfig_files(const LoadOptions& options, bool& explicit_file) {
  explicit_file = !options.file.empty();
  if (explicit_file) return {options.file};
  std::string env;
  if (options.kubeconfig_env) {
    env = *options.kubeconfig_env;
  } else if (const char* v = std::getenv("KUBECONFIG")) {
    env = v;
  }
  std::vector<fs::path> files;
  if (!env.empty()) {
    std::stringstream in(env);
    std::string item;
    while (std::getline(in, item, ':')) {
      if (item.empty()) continue;
      fs::path p = fs::path(item).lexically_normal();
      bool seen = false;
      for (const auto& f : files) seen = seen || f == p;
      if (!seen) files.push_back(p);
    }
    return files;
  }
  if (const char* home = std::getenv("HOME"); home && *home) files.push_back(fs::path(home) / ".kube" / "config");
  return files;
}

}  // namespace

Config parse_kubeconfig(std::string_view yaml, const fs::path& origin, const std::string& context) {
  try {
    Merged merged;
    merge_text(merged, yaml, origin.string());
    LoadOptions options;
    options.context = context;
    return select(merged, options);
  } catch (const YAML::Exception& e) {
    // Node access on odd shapes (non-scalar keys, ...) that the checks above
    // did not anticipate: still the user's file, still a clear error.
    throw Error(Errc::invalid_argument, fmt::format("kubeconfig {}: {}", origin.string(), e.what()));
  }
}

namespace {
Config load_kubeconfig_files(const LoadOptions& options);
}  // namespace

Config load_kubeconfig(const LoadOptions& options) {
  try {
    return load_kubeconfig_files(options);
  } catch (const YAML::Exception& e) {
    throw Error(Errc::invalid_argument, fmt::format("kubeconfig: {}", e.what()));
  }
}

namespace {
Config load_kubeconfig_files(const LoadOptions& options) {
  bool explicit_file = false;
  auto files = kubeconfig_files(options, explicit_file);
  Merged merged;
  std::string looked_at;
  for (const auto& file : files) {
    looked_at += (looked_at.empty() ? "" : ", ") + file.string();
    std::error_code ec;
    if (!fs::exists(file, ec)) {
      if (explicit_file) throw Error(Errc::not_found, fmt::format("kubeconfig {} does not exist", file.string()));
      continue;  // client-go skips missing KUBECONFIG entries
    }
    merge_text(merged, read_file_capped(file), file.string());
  }
  if (merged.files.empty())
    throw Error(Errc::not_found, fmt::format("no kubeconfig found (looked at: {}); set KUBECONFIG or pass a file",
                                             looked_at.empty() ? "$HOME is unset" : looked_at));
  return select(merged, options);
}

std::string read_small(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}
}  // namespace

Config in_cluster_config(const fs::path& dir) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port)
    throw Error(Errc::not_found,
                "not running in a Kubernetes pod: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not set");
  std::error_code ec;
  auto token = dir / "token";
  if (!fs::is_regular_file(token, ec))
    throw Error(Errc::not_found, fmt::format("in-cluster configuration: the service account token {} is missing "
                                             "(automountServiceAccountToken disabled?)", token.string()));
  Config config;
  std::string h = host;
  if (h.find(':') != std::string::npos && h.front() != '[') h = "[" + h + "]";
  config.server = fmt::format("https://{}:{}", h, port);
  config.origin = "in-cluster";
  config.in_cluster = true;
  config.token_file = token.string();
  if (fs::is_regular_file(dir / "ca.crt", ec)) config.ca_file = (dir / "ca.crt").string();
  if (fs::is_regular_file(dir / "namespace", ec)) config.namespace_name = read_small(dir / "namespace");
  if (config.namespace_name.empty()) config.namespace_name = "default";
  return config;
}

Config default_config(const LoadOptions& options) {
  try {
    return load_kubeconfig(options);
  } catch (const Error& e) {
    if (e.code() != Errc::not_found || !options.file.empty() || std::getenv("KUBERNETES_SERVICE_HOST") == nullptr)
      throw;
    // No kubeconfig at all: inside a pod the service account is the config.
    if (std::string_view(e.what()).rfind("no kubeconfig found", 0) != 0) throw;
    auto config = in_cluster_config();
    if (!options.namespace_name.empty()) config.namespace_name = options.namespace_name;
    return config;
  }
}

}  // namespace kiln::kube
