# What `cmake --install` (and so the Debian packages) put where.
include(GNUInstallDirs)
install(TARGETS synwarden synwarden-agent RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR})
install(TARGETS synwardenctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${PROJECT_SOURCE_DIR}/packaging/etc/synwarden.json
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/synwarden
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/etc/agent.json
        DESTINATION ${CMAKE_INSTALL_SYSCONFDIR}/synwarden
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ)
