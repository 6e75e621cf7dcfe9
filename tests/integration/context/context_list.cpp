// Prints kiln's view of a build context as JSON (one object), for the Docker
// ground-truth test: context_list ROOT [DOCKERFILE]
#include <boost/json.hpp>
#include <cstdio>
#include <iostream>

#include "kiln/build_context.hpp"
#include "kiln/error.hpp"

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: context_list ROOT [DOCKERFILE]\n");
    return 2;
  }
  try {
    kiln::DirectoryContext ctx(argv[1], argc > 2 ? argv[2] : "Dockerfile");
    boost::json::array entries;
    for (const auto& e : ctx.entries()) {
      const char* type = e.type == kiln::EntryType::directory ? "dir" : e.type == kiln::EntryType::symlink ? "symlink" : "file";
      entries.push_back({{"path", e.path}, {"type", type}, {"forced", e.forced}, {"mode", e.mode}});
    }
    boost::json::object out{{"dockerfile", ctx.dockerfile()}, {"entries", entries},
                            {"version", ctx.version().version}};
    std::cout << boost::json::serialize(out) << "\n";
    return 0;
  } catch (const kiln::Error& e) {
    boost::json::object out{{"error", e.what()}, {"code", kiln::errc_name(e.code())}};
    std::cout << boost::json::serialize(out) << "\n";
    return 1;
  }
}
