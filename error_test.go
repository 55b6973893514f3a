package ripcord_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ripcordhq/ripcord"
)

func TestErrorHelpers(t *testing.T) {
	t.Parallel()

	t.Run("DomainErrorThroughWrapping", func(t *testing.T) {
		t.Parallel()
		err := fmt.Errorf("create app shop: %w",
			ripcord.Errorf(ripcord.ECONFLICT, "app %q already exists", "shop").WithDetails(map[string]any{"name": "shop"}))
		require.Equal(t, ripcord.ECONFLICT, ripcord.ErrorCode(err))
		require.Equal(t, `app "shop" already exists`, ripcord.ErrorMessage(err))
		require.Equal(t, map[string]any{"name": "shop"}, ripcord.ErrorDetails(err))
		require.Equal(t, `create app shop: app "shop" already exists`, err.Error())
	})

	t.Run("OtherErrorsAreInternal", func(t *testing.T) {
		t.Parallel()
		err := errors.New("pq: connection refused at 10.0.0.3")
		require.Equal(t, ripcord.EINTERNAL, ripcord.ErrorCode(err))
		require.Equal(t, "Internal error.", ripcord.ErrorMessage(err), "internal detail never reaches the user")
		require.Nil(t, ripcord.ErrorDetails(err))
	})
}
