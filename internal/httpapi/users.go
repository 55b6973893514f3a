package httpapi

import (
	"net/http"

	"github.com/ripcordhq/ripcord"
	"github.com/ripcordhq/ripcord/internal/access"
)

func (h *handler) userList(w http.ResponseWriter, r *http.Request) {
	us, err := h.access.UserList(r.Context())
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, List[User]{Items: mapSlice(us, NewUser)})
}

func (h *handler) userCreate(w http.ResponseWriter, r *http.Request) {
	var req UserCreateRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	role, err := ripcord.ParseRole(req.Role)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := h.access.UserCreate(r.Context(), access.UserParams{Email: req.Email, Name: req.Name, Role: role, TeamRoles: req.TeamRoles, Password: req.Password})
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, NewUser(u))
}

func (h *handler) userSetTeamRoles(w http.ResponseWriter, r *http.Request) {
	var req UserTeamRolesRequest
	if err := h.decodeJSON(w, r, &req); err != nil {
		h.writeError(w, r, err)
		return
	}
	u, err := h.access.UserSetTeamRoles(r.Context(), r.PathValue("email"), req.TeamRoles)
	if err != nil {
		h.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, NewUser(u))
}
