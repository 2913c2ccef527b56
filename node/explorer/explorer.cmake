# The block explorer page (docs/API.md "Explorer"): three static files compiled into v2g_node.
# Included by node/CMakeLists.txt (not a subdirectory: a generated source must be made in the
# folder of the target that compiles it).
set(V2G_EXPLORER_FILES index.html explorer.js explorer.css)
set(explorer_src "${CMAKE_CURRENT_LIST_DIR}")
set(explorer_inputs "")
foreach(f IN LISTS V2G_EXPLORER_FILES)
  list(APPEND explorer_inputs "${explorer_src}/${f}")
endforeach()
set(explorer_cc "${CMAKE_CURRENT_BINARY_DIR}/explorer_assets.cc")
add_custom_command(
  OUTPUT "${explorer_cc}"
  COMMAND ${CMAKE_COMMAND} -DSRC=${explorer_src} -DOUT=${explorer_cc}
          "-DFILES=${V2G_EXPLORER_FILES}" -P ${explorer_src}/embed.cmake
  DEPENDS ${explorer_inputs} ${explorer_src}/embed.cmake
  COMMENT "Embedding the explorer page"
  VERBATIM)
target_sources(v2g_node PRIVATE "${explorer_cc}")
