// The state behind kube::Client, shared by the REST, watch, logs, exec and
// proxy sources.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "http/client.hpp"
#include "kiln/kube.hpp"
#include "kube/auth.hpp"

namespace kiln::kube {

struct Call {
  std::string method = "GET";
  std::string path;  // with query
  std::string body;
  std::string content_type;
  std::string accept = "application/json";
  http::BodySink sink;            // streams a 2xx body
  http::BodySource* body_source = nullptr;
  std::int64_t body_size = -1;
  std::vector<std::pair<std::string, std::string>> headers;
  bool streaming = false;         // no request timeout, no low-speed abort
  std::chrono::milliseconds timeout{-1};  // -1 = the client's request timeout (0 for streams)
  bool retry = true;
};

struct Client::Impl {
  Impl(Config c, ClientOptions o);

  // One request with credentials; a 401 re-runs the exec plugin / re-reads
  // the token file once. Any status is returned.
  http::Response send(Call& call, const CancelToken& cancel);
  // send() and Status -> Error for non-2xx; returns the parsed JSON object.
  Object send_json(Call& call, const CancelToken& cancel);
  // "GET /api/v1/..." for messages (no query: continue tokens are opaque state).
  static std::string what(const Call& call);

  // Shared: a session replaced after a certificate change stays alive for
  // the transfers (and WebSocket handles sharing its connection cache) still using it.
  std::shared_ptr<http::Session> session(bool streaming, const RequestCredentials& creds);
  http::SessionOptions session_options(bool streaming, const RequestCredentials& creds) const;
  http::Headers headers_for(const RequestCredentials& creds) const;
  std::string ns(const std::string& given) const { return given.empty() ? config.namespace_name : given; }

  Config config;
  ClientOptions options;
  Authenticator auth;

  std::mutex mutex;  // sessions and discovery cache
  std::string session_cert;  // client certificate the sessions were built with
  std::shared_ptr<http::Session> rest_session, stream_session;
  std::map<std::string, Resource> discovered;  // "apiVersion/Kind"
};

Object parse_object(std::string_view body, std::string_view what);
std::string object_name(const Object& o);
std::string object_namespace(const Object& o);
std::string object_resource_version(const Object& o);
// o[path...] as a string, "" when absent.
std::string json_str(const boost::json::value& v, std::initializer_list<std::string_view> path);

}  // namespace kiln::kube
